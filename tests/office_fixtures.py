"""Generate real Word and PDF procedure files for the ingest tests (nothing binary is committed).

The procedures are fictional (agency 'UBND xã Bình An', codes QT-09..QT-12) so that every fact a
test asks about exists only in these files.
"""
from __future__ import annotations

from pathlib import Path

from retrieval.ingest.legacy_encodings import unicode_to_tcvn3, unicode_to_vni

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# --- QT-09: a Word procedure with its header table in the body, two versions -------------------

QT09_SECTIONS_V2 = [
    ("1. Mục đích", ["Quy trình này thống nhất cách Ủy ban nhân dân xã Bình An tiếp nhận, phân loại, "
                     "xử lý và trả lời phản ánh, kiến nghị của người dân và tổ chức."]),
    ("2. Phạm vi áp dụng", ["Áp dụng cho mọi phản ánh, kiến nghị gửi tới xã qua hộp thư góp ý, đường dây nóng, "
                            "cổng thông tin điện tử và trực tiếp tại Bộ phận một cửa."]),
    ("3. Tài liệu viện dẫn", ["Điều 9.1.2 của TCVN ISO 9001:2015 về sự thỏa mãn của khách hàng."]),
    ("4. Nội dung quy trình", []),
    ("4.1 Tiếp nhận phản ánh", [
        "Phản ánh, kiến nghị được tiếp nhận qua các kênh sau:",
        "1. Hộp thư góp ý đặt tại trụ sở, mở vào chiều thứ Sáu hằng tuần;",
        "2. Đường dây nóng do công chức Văn phòng - Thống kê trực trong giờ hành chính;",
        "Mọi phản ánh được ghi vào sổ theo dõi phản ánh, kiến nghị trong ngày tiếp nhận.",
    ]),
    ("4.2 Phân loại và chuyển xử lý", [
        "Công chức Văn phòng - Thống kê phân loại phản ánh và trình Chủ tịch UBND xã giao bộ phận xử lý.",
        ("table", [
            ["Trách nhiệm", "Nội dung công việc", "Thời gian"],
            ["Công chức Văn phòng - Thống kê", "Phân loại phản ánh, kiến nghị", "01 ngày làm việc"],
            ["Chủ tịch UBND xã", "Giao bộ phận chuyên môn xử lý", "01 ngày làm việc"],
            ["Bộ phận chuyên môn", "Xác minh, đề xuất cách giải quyết", "04 ngày làm việc"],
        ]),
    ]),
    ("4.3 Trả lời người phản ánh", [
        "Người phản ánh nhận được văn bản trả lời trong vòng 07 ngày làm việc kể từ ngày tiếp nhận; "
        "vụ việc phức tạp được gia hạn thêm không quá 05 ngày làm việc và phải báo cho người phản ánh biết lý do.",
    ]),
    ("5. Hồ sơ", [
        ("table", [
            ["Tên hồ sơ", "Nơi lưu", "Thời gian lưu"],
            ["Sổ theo dõi phản ánh, kiến nghị", "Văn phòng - Thống kê", "05 năm"],
            ["Văn bản trả lời người phản ánh", "Bộ phận xử lý", "03 năm"],
        ]),
    ]),
]

QT09_SECTIONS_V1 = [
    ("1. Mục đích", ["Quy trình cũ về tiếp nhận phản ánh, kiến nghị của người dân tại xã Bình An."]),
    ("2. Trả lời người phản ánh", [
        "Người phản ánh nhận được văn bản trả lời trong vòng 15 ngày làm việc kể từ ngày tiếp nhận phản ánh, kiến nghị.",
    ]),
]

# --- QT-11: a TCVN3 (.VnTime) Word procedure, header fields in the page header ------------------

QT11_SECTIONS = [
    ("1. Mục đích", ["Quy định việc tiếp công dân tại trụ sở Ủy ban nhân dân xã Bình An để người dân "
                     "trình bày khiếu nại, tố cáo, kiến nghị và phản ánh."]),
    ("2. Lịch tiếp công dân", [
        "Chủ tịch Ủy ban nhân dân xã tiếp công dân định kỳ vào sáng thứ Năm hằng tuần tại phòng tiếp công dân; "
        "công chức Tư pháp - Hộ tịch làm thư ký buổi tiếp.",
    ]),
    ("3. Sổ tiếp công dân", [
        "Mỗi lượt tiếp được ghi vào sổ tiếp công dân; sổ được lưu tại bộ phận Tư pháp - Hộ tịch trong 10 năm.",
    ]),
]

# --- QT-10: a text PDF with a running header and 'Bước' steps ----------------------------------

QT10_PAGES = [
    [
        ("title", "QUY TRÌNH QUẢN LÝ CON DẤU VÀ PHÁT HÀNH VĂN BẢN"),
        ("text", "Mã số: QT-10     Lần ban hành: 01     Ngày hiệu lực: 15/04/2024"),
        ("heading", "1. Mục đích"),
        ("text", "Bảo đảm con dấu của Ủy ban nhân dân xã Bình An được quản lý chặt chẽ và mọi văn bản"),
        ("text", "đi được đóng dấu, đăng ký và phát hành đúng quy định."),
        ("heading", "2. Phạm vi áp dụng"),
        ("text", "Áp dụng cho công chức Văn phòng - Thống kê làm công tác văn thư và các bộ phận có văn bản đi."),
        ("heading", "3. Trình tự thực hiện"),
        ("heading", "Bước 1: Kiểm tra văn bản trước khi đóng dấu"),
        ("text", "Văn thư kiểm tra thể thức, chữ ký của người có thẩm quyền và số lượng bản trước khi đóng"),
        ("text", "dấu; văn bản sai thể thức được trả lại bộ phận soạn thảo."),
    ],
    [
        ("heading", "Bước 2: Đóng dấu và vào sổ"),
        ("text", "Văn thư đóng dấu trùm lên khoảng một phần ba chữ ký ở phía bên trái và ghi số, ngày vào"),
        ("text", "sổ đăng ký văn bản đi."),
        ("heading", "Bước 3: Phát hành văn bản"),
        ("text", "Văn bản đã đóng dấu được phát hành ngay trong ngày; văn bản ký sau 16 giờ 30 được phát"),
        ("text", "hành trước 9 giờ sáng ngày làm việc kế tiếp."),
        # Drawn in pieces with small gaps, the way some PDF writers place glyphs: text extraction
        # then cuts syllables around the marks ('DẤ U', 'nhiệ m').
        ("split", ["4. LƯU GIỮ CON DẤ", "U"]),
        ("split", ["Trách nhiệ", "m giữ con dấu thuộc về văn thư. Con dấu được cất trong tủ có khóa tại"]),
        ("text", "phòng văn thư; chỉ văn thư giữ chìa khóa và không"),
        ("text", "mang con dấu ra khỏi trụ sở khi chưa có ý kiến của Chủ tịch UBND xã."),
        ("heading", "5. Hồ sơ"),
        ("row", ["Tên hồ sơ", "Nơi lưu", "Thời gian lưu"]),
        ("row", ["Sổ đăng ký văn bản đi", "Văn thư", "05 năm"]),
        ("row", ["Sổ giao nhận con dấu", "Văn phòng - Thống kê", "Vĩnh viễn"]),
    ],
]
QT10_RUNNING_HEADER = "UBND xã Bình An — QT-10 Quản lý con dấu — Lần ban hành: 01"


def _add_table(document, rows: list[list[str]], style_font: str | None = None, encode=None):
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = table.cell(r, c)
            cell.text = ""
            run = cell.paragraphs[0].add_run(encode(value) if encode else value)
            if style_font:
                run.font.name = style_font
    return table


def _header_table(container, title_lines: list[str], fields: list[str], *, width=None, encode=None, font=None, title_font=None):
    """The usual three-cell header: agency | title | code, version, date."""
    table = container.add_table(rows=1, cols=3, width=width) if width is not None else container.add_table(rows=1, cols=3)
    agency, title_cell, fields_cell = table.rows[0].cells

    def put(cell, lines, run_font):
        cell.text = ""
        for i, line in enumerate(lines):
            paragraph = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
            run = paragraph.add_run(encode(line) if encode else line)
            if run_font:
                run.font.name = run_font

    put(agency, ["UBND XÃ BÌNH AN"], title_font or font)
    put(title_cell, title_lines, title_font or font)
    put(fields_cell, fields, font)
    return table


def write_qt09(path: Path, *, version: str = "02", effective: str = "01/03/2024", sections=None, header=True,
               auto_numbered: bool = False, fields: list[str] | None = None) -> Path:
    """QT-09 'Tiếp nhận và xử lý phản ánh, kiến nghị' as a real .docx.

    `auto_numbered`: top-level headings carry no typed number; Word's 'List Number' numbering prints it.
    """
    import docx

    document = docx.Document()
    if header:
        _header_table(document, ["QUY TRÌNH", "TIẾP NHẬN VÀ XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ CỦA NGƯỜI DÂN"],
                      fields or ["Mã số: QT-09", f"Lần ban hành: {version}", f"Ngày hiệu lực: {effective}", "Trang: 1/2"])
        document.add_paragraph("")
        _add_table(document, [
            ["Trách nhiệm", "Người soạn thảo", "Người xem xét", "Người phê duyệt"],
            ["Họ và tên", "Trần Thị Mai", "Lê Văn Nam", "Nguyễn Văn Bình"],
            ["Chức vụ", "Công chức Văn phòng - Thống kê", "Phó Chủ tịch UBND xã", "Chủ tịch UBND xã"],
            ["Chữ ký", "", "", ""],
        ])
        document.add_paragraph(
            "Quy trình này thay thế lần ban hành trước; mọi cán bộ, công chức của xã có trách nhiệm "
            "nghiên cứu và thực hiện đúng các bước dưới đây kể từ ngày có hiệu lực.")
    for heading, body in sections or QT09_SECTIONS_V2:
        if auto_numbered and heading[1] == ".":
            document.add_paragraph(heading.split(" ", 1)[1], style="List Number")
        else:
            document.add_paragraph(heading, style="Heading 1" if heading[1] == "." else "Heading 2")
        for item in body:
            if isinstance(item, tuple):
                _add_table(document, item[1])
            else:
                document.add_paragraph(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_legacy_docx(path: Path, *, encoding: str = "tcvn3") -> Path:
    """QT-11 'Tiếp công dân' typed in TCVN3 (.VnTime, title in .VnTimeH) or VNI (VNI-Times)."""
    import docx
    from docx.shared import Cm

    if encoding == "tcvn3":
        # TCVN3 has no upper-case toned letters: typists typed the title in lower case in the
        # all-capitals font .VnTimeH, which prints it in capitals.
        encode, font, title_font, title = unicode_to_tcvn3, ".VnTime", ".VnTimeH", ["quy trình", "tiếp công dân"]
    else:
        encode, font, title_font, title = unicode_to_vni, "VNI-Times", "VNI-Times", ["QUY TRÌNH", "TIẾP CÔNG DÂN"]
    document = docx.Document()
    # Header fields in Word's page header, as many agencies keep them.
    _header_table(document.sections[0].header, title, ["Mã số: QT-11", "Lần ban hành: 03", "Ngày hiệu lực: 10/01/2024"],
                  width=Cm(17), encode=encode, font=font, title_font=title_font)
    for heading, body in QT11_SECTIONS:
        run = document.add_paragraph().add_run(encode(heading))
        run.font.name, run.bold = font, True
        for text in body:
            run = document.add_paragraph().add_run(encode(text))
            run.font.name = font
    _soft_hyphens_as_elements(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def _soft_hyphens_as_elements(document) -> None:
    """Store U+00AD (TCVN3 'ư') as <w:softHyphen/>, the way Word keeps it after opening a legacy file."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    parts = [document.element.body] + [s.header._element for s in document.sections]
    for root in parts:
        for t in list(root.iter(qn("w:t"))):
            if "\u00ad" not in (t.text or ""):
                continue
            run = t.getparent()
            pieces = t.text.split("\u00ad")
            position = list(run).index(t)
            run.remove(t)
            for i, piece in enumerate(pieces):
                if i:
                    run.insert(position, OxmlElement("w:softHyphen"))
                    position += 1
                if piece:
                    new_t = OxmlElement("w:t")
                    new_t.text = piece
                    new_t.set(qn("xml:space"), "preserve")
                    run.insert(position, new_t)
                    position += 1


def register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU)))
    return "DejaVuSans"


def write_qt10_pdf(path: Path, pages=None, running_header: str = QT10_RUNNING_HEADER, encode=None) -> Path:
    """QT-10 as a text PDF drawn with reportlab, a running header and page numbers on each page.

    `encode` (e.g. unicode_to_tcvn3) makes the text layer carry legacy codes, as a PDF printed
    from a .VnTime document does.
    """
    if encode:
        pages = [[(kind, [encode(t) for t in text] if kind in ("split", "row") else encode(text)) for kind, text in page]
                 for page in (pages or QT10_PAGES)]
        running_header = encode(running_header)
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = register_font()
    pages = pages or QT10_PAGES
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("untitled")
    width, height = A4
    for number, lines in enumerate(pages, start=1):
        pdf.setFont(font, 9)
        pdf.drawString(50, height - 40, running_header)
        y = height - 80
        for kind, text in lines:
            size = 13 if kind == "title" else 11
            pdf.setFont(font, size)
            if kind == "title":
                pdf.drawCentredString(width / 2, y, text)
            elif kind == "split":
                _draw_in_pieces(pdf, font, size, 50, y, text)
            elif kind == "row":  # a table row: cells at fixed columns, as a Word export draws them
                for x, cell in zip((50, 260, 430), text):
                    pdf.drawString(x, y, cell)
            else:
                pdf.drawString(50, y, text)
            y -= 22 if kind in ("title", "heading") else 16
        pdf.setFont(font, 9)
        pdf.drawCentredString(width / 2, 30, f"Trang {number}/{len(pages)}")
        pdf.showPage()
    pdf.save()
    return path


def _draw_in_pieces(pdf, font: str, size: float, x: float, y: float, pieces: list[str], gap: float = 3.0) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = pdf.beginText(x, y)
    text.setFont(font, size)
    for piece in pieces:
        text.textOut(piece)
        text.moveCursor(stringWidth(piece, font, size) + gap, 0)
    pdf.drawText(text)


def write_image_only_pdf(path: Path) -> Path:
    """A 'scanned' procedure: one page with an embedded picture and shapes, no text layer at all."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("L", (400, 560), 255)
    draw = ImageDraw.Draw(picture)
    for y in range(40, 540, 18):  # grey bars where the scanned lines of text would be
        draw.rectangle([30, y, 370 - (y * 7) % 90, y + 8], fill=60)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawImage(ImageReader(picture), 60, 150, width=470, height=640)
    pdf.rect(40, 130, 510, 680)
    pdf.showPage()
    pdf.save()
    return path
