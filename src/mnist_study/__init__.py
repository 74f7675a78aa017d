"""Why do linear models, MLPs and CNNs behave as they do on MNIST?

The package behind the Snakemake study: data, models, training, evaluation, analysis, report.
"""

__version__ = "0.1.0"


class StudyError(Exception):
    """Bad input; the message names the file or key at fault, what was expected, and the remedy."""
