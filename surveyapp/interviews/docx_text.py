"""The text of a Word (.docx) document, for transcripts: every paragraph of the body, and of
every table cell (row by row, a merged cell once, nested tables in place), in document order,
one line each. Headers, footers, comments and text boxes are not read. Pure: bytes in, text out.

python-docx parses with entity resolution off; the archive is checked for its unpacked size
first, so a small upload cannot unpack to gigabytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

MAX_UNPACKED_BYTES = 100 * 1024 * 1024


class NotDocx(ValueError):
    """The bytes are not a readable .docx document."""


class DocxTooLarge(ValueError):
    """The archive unpacks to more than ``MAX_UNPACKED_BYTES``."""


def _lines(container, seen: set) -> Iterator[str]:
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block.text
        elif isinstance(block, Table):
            for row in block.rows:
                for cell in row.cells:
                    if cell._tc in seen:  # a merged cell appears once per grid column/row it spans
                        continue
                    seen.add(cell._tc)
                    yield from _lines(cell, seen)


def docx_text(data: bytes) -> str:
    """The document's text, paragraphs joined with ``\\n``. Raises NotDocx or DocxTooLarge."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise NotDocx(str(error)) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocxTooLarge(f"unpacks to {unpacked} bytes")
    try:
        document = docx.Document(io.BytesIO(data))
        return "\n".join(_lines(document, set()))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, etree.XMLSyntaxError) as error:
        raise NotDocx(str(error)) from None
