"""The engine: model specs, optimizers and the training, evaluation and learning-rate tuning of
each run, and the machine's matmul benchmark."""
