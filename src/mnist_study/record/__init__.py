"""The record: where and how each result was made, the history of finished studies, and what
changed between two studies or carries over between datasets."""
