"""The PDF the portal writes for the firm's records (a thread's transcript,
a questionnaire's answers): A4 pages in Roboto, which draws Latin and
Cyrillic, numbered "Page N of M"; a character the font lacks is printed as
U+FFFD, never dropped."""
from __future__ import annotations

import font_roboto
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos


class RecordPdf(FPDF):
    """A4 pages in Roboto (Latin and Cyrillic), numbered "Page N of M"."""

    def __init__(self):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.add_font("Roboto", "", font_roboto.Roboto)
        self.add_font("Roboto", "B", font_roboto.RobotoBold)
        self.set_auto_page_break(True, margin=18)
        self.set_margins(18, 18, 18)
        self.covered = self.fonts["roboto"].cmap  # the characters Roboto can draw
        self.replaced = False

    def footer(self):
        self.set_y(-12)
        self.set_font("Roboto", size=8)
        self.set_text_color(90)
        # fpdf2 replaces {nb} with the page count once all pages exist.
        self.cell(0, 5, _("Page %(page)s of %(pages)s", page=self.page_no(),
                          pages=self.str_alias_nb_pages), align="C")

    def printable(self, text: str) -> str:
        """``text`` with each character the font lacks (Chinese, emoji...) as
        U+FFFD: a record must not drop characters silently."""
        shown = "".join(ch if ord(ch) in self.covered or ch == "\n" else "\ufffd" for ch in text)
        self.replaced = self.replaced or shown != text
        return shown

    def text_lines(self, lines: list[str], size: float = 10, bold: bool = False,
                   color: int = 0, indent: float = 0) -> None:
        self.set_font("Roboto", "B" if bold else "", size)
        self.set_text_color(color)
        self.set_left_margin(self.l_margin + indent)
        for line in lines:
            # multi_cell wraps at spaces, and inside a word longer than the line.
            self.multi_cell(0, size * 0.5, self.printable(line), new_x=XPos.LMARGIN,
                            new_y=YPos.NEXT)
        self.set_left_margin(self.l_margin - indent)
