"""The journey-map report: one self-contained file for a slide deck or an email.

``report_html`` renders the dashboard's journey map with its CSS, JavaScript and Plotly
inlined, so the file opens anywhere without a server or a network. ``print_report`` has
headless Chromium print that file to PDF (landscape pages, the whole map on the first)
or take a PNG of the whole page.
"""

from parcours.report.render import FORMATS, print_report, report_html, write_report

__all__ = ["FORMATS", "print_report", "report_html", "write_report"]
