"""The figures: matplotlib drawing, one module per figure family, each writing its files for a
figure rule. Nothing here imports the page (report.page), which embeds what these draw."""
