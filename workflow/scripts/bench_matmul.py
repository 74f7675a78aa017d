"""Measure the 2048x2048 fp32 matmul figure on all the job's threads (rule bench_matmul)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.engine.matmul import write_matmul_figure

write_matmul_figure(snakemake.output.figure, threads=snakemake.threads)
