"""Sample files of every supported format, written by the tests themselves."""

from __future__ import annotations

import io
import zipfile

HTML = b"""<!doctype html><html><head><title>Widgets Guide - Example Docs</title><script>var x=1;</script></head>
<body><nav class="site-nav"><a href="/">Home</a> | <a href="/about">About us</a></nav>
<header><p>Example Docs banner</p></header>
<main><h1>Widgets Guide</h1><p>Widgets are small reusable parts.</p>
<h2>Installing widgets</h2><p>Run the installer with the --fast flag. It takes 42 seconds.</p>
<h3>On Linux</h3><p>Use the tarball.</p>
<h2>Removing widgets</h2><p>Delete the widget folder.</p></main>
<footer>Copyright footer text</footer></body></html>"""

MARKDOWN = b"""# Gadget Manual

Intro paragraph about gadgets.

## Charging

Charge the gadget for 3 hours.

```
# not a heading inside code
```

### Fast charging

Fast charging uses 20 W.

## Storage

Keep it dry.
"""


def pdf_bytes(pages: list[str], title: str = "Sprocket Report") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def pdf_without_text() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def pdf_encrypted() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(["Secret text on page one."]))))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Gizmo Handbook"
    document.add_heading("Gizmo Handbook", level=0)
    document.add_paragraph("Gizmos help teams.")
    document.add_heading("Setup", level=1)
    document.add_paragraph("Plug the gizmo into port 7.")
    document.add_heading("Advanced setup", level=2)
    document.add_paragraph("Enable turbo mode.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Setting"
    table.cell(0, 1).text = "Value"
    table.cell(1, 0).text = "turbo"
    table.cell(1, 1).text = "on"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_zip_bomb(inflated_bytes: int = 64 * 1024 * 1024) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as handle:
            block = b"\0" * (1024 * 1024)
            for _ in range(inflated_bytes // len(block)):
                handle.write(block)
    return out.getvalue()
