"""The HTML report: results loaded once, a builder per section, the page rendered with jinja2
and every figure embedded (it reads the figures report.plots draws, never the other way)."""
