"""Demo assets for the demo catalog: packshots, lifestyle scenes, a brewing clip, a setup
guide, a warranty, logos and a brand kit with its palette.

Every file is made here at seed time (SVG drawings rendered by libvips, a clip encoded by
PyAV, PDFs written by hand): nothing is downloaded and no binary file is kept in the
repository. Files go through the same `services.add_asset` as uploads, and approvals
through the workflow, so the demo shows assets in each state: approved, in review, draft,
rejected, one whose rights expired, one expiring in 10 days and one licensed for DE only.
File names follow the SKU_view convention (WB-750-SS-BLUE_front.jpg) that linking by SKU
will read. Idempotent: nothing is added once the demo brand kit exists. Previews are made
afterwards by the worker, as for any upload.
"""

import datetime
import io
import logging

from django.contrib.auth import get_user_model
from django.utils import timezone

from folio.assets.models import Asset, Collection

log = logging.getLogger("folio.assets")

BRAND_KIT = "aqualine-brand"
BOTTLE_COLOURS = {"BLACK": "#23262B", "BLUE": "#0B5CAD", "GREEN": "#2E8B57"}
BACKGROUND = "#F6F6F4"
SIZE = 1000


# --- drawings ---------------------------------------------------------------------------------


def _svg(body: str, width: int = SIZE, height: int = SIZE, background: str = BACKGROUND) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="{background}"/>{body}</svg>'
    )


def _shade(hex_colour: str, factor: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    mix = (
        (lambda c: round(c + (255 - c) * (factor - 1)))
        if factor > 1
        else (lambda c: round(c * factor))
    )
    return "#" + "".join(f"{max(0, min(255, mix(c))):02X}" for c in (r, g, b))


def _bottle(colour: str, cx: int = 500, top: int = 150, width: int = 260) -> str:
    """A steel bottle seen from the front: cap, neck, shoulders, body, a highlight."""
    half = width // 2
    body_top, bottom = top + 210, top + 760
    dark, light = _shade(colour, 0.7), _shade(colour, 1.35)
    return (
        f'<defs><linearGradient id="b" x1="0" x2="1">'
        f'<stop offset="0" stop-color="{dark}"/><stop offset=".45" stop-color="{light}"/>'
        f'<stop offset="1" stop-color="{dark}"/></linearGradient></defs>'
        f'<ellipse cx="{cx}" cy="{bottom + 12}" rx="{half + 30}" ry="22" fill="#000" '
        f'opacity=".12"/>'
        f'<path d="M{cx - half},{body_top} Q{cx - half},{body_top - 90} {cx - 60},{top + 95} '
        f"L{cx + 60},{top + 95} Q{cx + half},{body_top - 90} {cx + half},{body_top} "
        f"L{cx + half},{bottom - 40} Q{cx + half},{bottom} {cx + half - 40},{bottom} "
        f'L{cx - half + 40},{bottom} Q{cx - half},{bottom} {cx - half},{bottom - 40} Z" '
        f'fill="url(#b)"/>'
        f'<rect x="{cx - 62}" y="{top + 40}" width="124" height="60" rx="10" fill="#9AA0A6"/>'
        f'<rect x="{cx - 70}" y="{top}" width="140" height="52" rx="14" fill="#2B2E33"/>'
        f'<rect x="{cx - half + 40}" y="{body_top + 30}" width="26" '
        f'height="{bottom - body_top - 90}" rx="13" fill="#fff" opacity=".28"/>'
        f'<path d="M{cx - 28},{body_top + 250} q28,-60 56,0 a28,28 0 1,1 -56,0z" fill="#fff" '
        f'opacity=".85"/>'
    )


def bottle_front(colour: str) -> str:
    return _svg(_bottle(colour))


def bottle_side(colour: str) -> str:
    # In profile the cap's carrying loop shows on one side.
    loop = (
        '<path d="M570,170 q70,0 70,55 q0,55 -70,55" fill="none" stroke="#2B2E33" '
        'stroke-width="22"/>'
    )
    return _svg(_bottle(colour, width=230) + loop)


def bottle_top(colour: str) -> str:
    ridges = "".join(
        f'<line x1="500" y1="500" x2="{500 + 150 * c:.0f}" y2="{500 + 150 * s:.0f}" '
        f'stroke="#3A3E44" stroke-width="5"/>'
        for c, s in _circle_points(24)
    )
    return _svg(
        f'<circle cx="512" cy="512" r="300" fill="#000" opacity=".10"/>'
        f'<circle cx="500" cy="500" r="290" fill="{colour}"/>'
        f'<circle cx="500" cy="500" r="250" fill="{_shade(colour, 1.3)}"/>'
        f'<circle cx="500" cy="500" r="160" fill="#2B2E33"/>{ridges}'
        f'<circle cx="500" cy="500" r="120" fill="#2B2E33"/>'
        f'<circle cx="460" cy="450" r="30" fill="#fff" opacity=".15"/>'
    )


def _circle_points(n: int):
    import math

    return [(math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)) for i in range(n)]


def _machine(x: int = 280, y: int = 180, w: int = 440, h: int = 620) -> str:
    return (
        f'<ellipse cx="{x + w // 2}" cy="{y + h + 10}" rx="{w // 2 + 40}" ry="24" fill="#000" '
        f'opacity=".12"/>'
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="28" fill="#30343A"/>'
        f'<rect x="{x + 30}" y="{y + 30}" width="{w - 60}" height="120" rx="14" fill="#C9CED4"/>'
        f'<circle cx="{x + 90}" cy="{y + 90}" r="26" fill="#30343A"/>'
        f'<rect x="{x + 150}" y="{y + 66}" width="{w - 210}" height="48" rx="6" fill="#1C2B3A"/>'
        f'<rect x="{x + w // 2 - 60}" y="{y + 200}" width="120" height="70" rx="10" '
        f'fill="#9AA0A6"/>'
        f'<rect x="{x + w // 2 - 20}" y="{y + 270}" width="14" height="40" fill="#6B7076"/>'
        f'<rect x="{x + w // 2 + 6}" y="{y + 270}" width="14" height="40" fill="#6B7076"/>'
        f'<path d="M{x + w // 2 - 55},{y + 400} h110 l-12,100 h-86 z" fill="#FFFFFF"/>'
        f'<rect x="{x + 40}" y="{y + h - 90}" width="{w - 80}" height="50" rx="8" '
        f'fill="#9AA0A6"/>'
    )


def machine_front() -> str:
    return _svg(_machine())


def machine_side() -> str:
    tank = '<rect x="620" y="230" width="90" height="420" rx="12" fill="#8EC5E8" opacity=".7"/>'
    return _svg(
        '<ellipse cx="500" cy="810" rx="300" ry="24" fill="#000" opacity=".12"/>'
        '<rect x="230" y="180" width="480" height="620" rx="28" fill="#30343A"/>'
        '<rect x="230" y="180" width="480" height="40" rx="20" fill="#C9CED4"/>'
        '<rect x="200" y="380" width="60" height="70" rx="10" fill="#9AA0A6"/>' + tank
    )


def machine_top() -> str:
    return _svg(
        '<rect x="270" y="230" width="460" height="540" rx="30" fill="#30343A"/>'
        '<circle cx="420" cy="380" r="90" fill="#5A3A22"/>'
        '<circle cx="420" cy="380" r="60" fill="#7A4E2D"/>'
        '<rect x="560" y="300" width="120" height="400" rx="14" fill="#8EC5E8" opacity=".7"/>'
        '<rect x="310" y="560" width="200" height="150" rx="12" fill="#C9CED4"/>'
    )


def bottle_lifestyle(colour: str) -> str:
    scene = (
        '<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
        '<stop offset="0" stop-color="#FFB56B"/><stop offset="1" stop-color="#FF7A59"/>'
        "</linearGradient></defs>"
        '<rect width="1000" height="1000" fill="url(#sky)"/>'
        '<circle cx="760" cy="260" r="110" fill="#FFE3A3"/>'
        '<path d="M0,700 Q250,560 500,680 T1000,640 V1000 H0 Z" fill="#3D7A5A"/>'
        '<path d="M0,800 Q300,720 600,800 T1000,780 V1000 H0 Z" fill="#2E5E45"/>'
    )
    return _svg(scene + _bottle(colour, cx=420, top=170, width=240))


def machine_lifestyle() -> str:
    kitchen = (
        '<rect width="1000" height="1000" fill="#E9D8C4"/>'
        '<rect y="0" width="1000" height="120" fill="#D8C2A8"/>'
        + "".join(
            f'<rect x="{x}" y="140" width="110" height="110" fill="#F4ECE2" stroke="#D8C2A8" '
            f'stroke-width="6"/>'
            for x in range(40, 1000, 120)
        )
        + '<rect y="800" width="1000" height="200" fill="#7B5B3E"/>'
        '<rect x="760" y="690" width="90" height="110" rx="10" fill="#FFFFFF"/>'
    )
    return _svg(kitchen + _machine(x=250, y=200, w=420, h=600), background="#E9D8C4")


def logo_svg(negative: bool = False) -> str:
    ink = "#FFFFFF" if negative else "#0B5CAD"
    ground = "#0B5CAD" if negative else "none"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="140" '
        'viewBox="0 0 480 140">'
        "<title>Aqualine</title>"
        f'<rect width="480" height="140" fill="{ground}"/>'
        f'<path d="M70,20 C70,20 30,70 30,92 a40,40 0 0,0 80,0 C110,70 70,20 70,20z" '
        f'fill="{ink}"/>'
        f'<text x="130" y="96" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        f'font-size="64" font-weight="bold" fill="{ink}">aqualine</text></svg>'
    )


def espressopro_logo_svg() -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="520" height="140" '
        'viewBox="0 0 520 140"><title>EspressoPro</title>'
        '<path d="M30,50 h70 v40 a35,35 0 0,1 -70,0 z" fill="#5A3A22"/>'
        '<path d="M100,60 a16,16 0 0,1 0,32" fill="none" stroke="#5A3A22" stroke-width="8"/>'
        '<text x="130" y="94" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        'font-size="56" font-weight="bold" fill="#30343A">EspressoPro</text></svg>'
    )


def render(svg: str, fmt: str = "jpg") -> bytes:
    import pyvips

    image = pyvips.Image.svgload_buffer(svg.encode())
    if fmt == "png":
        return image.pngsave_buffer(compression=6)
    return image.flatten(background=[255, 255, 255]).jpegsave_buffer(
        Q=86, interlace=True, keep="none"
    )


def brewing_clip(seconds: float = 2.5, width: int = 320, height: int = 180, fps: int = 12) -> bytes:
    """Coffee running from the spout into a cup that fills up (H.264 in MP4)."""
    import av
    from PIL import Image, ImageDraw

    out = io.BytesIO()
    frames = int(seconds * fps)
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        for i in range(frames):
            img = Image.new("RGB", (width, height), (233, 216, 196))
            d = ImageDraw.Draw(img)
            d.rectangle((110, 10, 210, 50), fill=(48, 52, 58))  # machine head
            d.rectangle((150, 50, 170, 62), fill=(107, 112, 118))  # spout
            drop_y = 62 + (i * 9) % 70
            d.line((160, 62, 160, min(drop_y, 118)), fill=(90, 58, 34), width=4)
            level = int(40 * (i + 1) / frames)
            d.rectangle((125, 118, 195, 160), fill=(255, 255, 255), outline=(200, 200, 200))
            d.rectangle((128, 158 - level, 192, 158), fill=(90, 58, 34))
            d.arc((190, 125, 215, 150), -90, 90, fill=(200, 200, 200), width=4)
            d.rectangle((0, 160, width, height), fill=(123, 91, 62))
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _pdf_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(title: str, pages: list[list[str]], author: str = "Aqualine GmbH") -> bytes:
    """A minimal valid PDF: A4 pages of Helvetica text, the first line of each as a heading."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>")
    for lines in pages:
        ops = ["BT", "/F2 22 Tf", "60 770 Td", f"({_pdf_text(lines[0])}) Tj", "/F1 12 Tf"]
        ops.append("0 -36 Td")
        for line in lines[1:]:
            ops += [f"({_pdf_text(line)}) Tj", "0 -20 Td"]
        ops.append("ET")
        ops.append("0.043 0.361 0.678 rg 60 60 475 4 re f")
        content = "\n".join(ops).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << "
            b"/F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % (len(objects) + 2)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(f"<< /Title ({_pdf_text(title)}) /Author ({_pdf_text(author)}) >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, len(objects), xref)
    )
    return out.getvalue()


SETUP_GUIDE = [
    [
        "EspressoPro 3000 - Setup guide",
        "Thank you for choosing the EspressoPro 3000 automatic coffee machine.",
        "This guide takes you from the box to your first espresso in ten minutes.",
        "",
        "In the box: machine, water tank (1.8 l), drip tray, descaler sample,",
        "water hardness test strip, this guide.",
    ],
    [
        "1. Place and fill",
        "Place the machine on a flat, dry surface at least 10 cm from the wall.",
        "Rinse the water tank, fill it with fresh cold water up to MAX and insert it.",
        "Fill the bean container with whole beans (up to 250 g).",
    ],
    [
        "2. First start",
        "Press the power button. The machine heats up and rinses (about 40 s).",
        "Set the water hardness measured with the test strip (menu > Water).",
        "Place a cup under the spout and press ESPRESSO. Enjoy!",
        "",
        "Descale when the display asks: use EspressoPro descaler (EP-DESCALER).",
    ],
]

WARRANTY = [
    [
        "Warranty - Aqualine and EspressoPro products",
        "Aqualine GmbH warrants this product against defects in material and",
        "workmanship for 24 months from the date of purchase.",
        "",
        "Keep your receipt. The warranty does not cover wear parts, damage from",
        "misuse, or limescale damage where descaling was not done as instructed.",
        "",
        "Claims: support@aqualine.example - please state the SKU and serial number.",
    ]
]

GUIDELINES = [
    [
        "Aqualine brand guidelines",
        "Logo: use the full-colour logo on light backgrounds and the negative logo",
        "on Aqualine Blue or photography. Keep clear space of one drop height.",
        "Never stretch, recolour or add effects to the logo.",
    ],
    [
        "Colours and type",
        "Primary: Aqualine Blue #0B5CAD. Secondary: Deep Ink #1D2330, Glacier #E6F0FA.",
        "Accent for campaigns: Sunset #FF7A59 - at most 10 % of a layout.",
        "Typeface: DejaVu Sans (bold for headlines, book for text).",
    ],
]

PALETTE = [
    {"name": "Aqualine Blue", "hex": "#0B5CAD", "cmyk": [94, 47, 0, 32]},
    {"name": "Deep Ink", "hex": "#1D2330"},
    {"name": "Glacier", "hex": "#E6F0FA"},
    {"name": "Sunset", "hex": "#FF7A59", "cmyk": [0, 52, 65, 0]},
    {"name": "Steel", "rgb": [154, 160, 166]},
]


# --- seeding ----------------------------------------------------------------------------------


def _user(username: str):
    return get_user_model().objects.filter(username=username, is_active=True).first()


def seed(out) -> None:
    if Collection.objects.filter(code=BRAND_KIT).exists():
        return
    from folio.assets import brandkit, editing, services

    uploader = _user("ada")  # asset manager
    approver = _user("bram")  # approver, in the brand and legal groups
    now = timezone.now()

    editing.create_collection(
        "packshots", name="Packshots", description="Product photos on white, by SKU and view"
    )
    editing.create_collection(
        "campaign-summer",
        name="Summer campaign",
        description="Lifestyle scenes and the brewing clip",
    )
    brandkit.create_brand_kit(
        BRAND_KIT,
        "Aqualine brand kit",
        description="Logos, colours, typeface and guidelines for partners and agencies",
    )
    groups = {"brand-approvers", "legal-approvers"}
    from django.contrib.auth.models import Group

    if groups <= set(Group.objects.filter(name__in=groups).values_list("name", flat=True)):
        # Brand material is signed off by brand, then legal.
        editing.create_workflow(
            "brand-legal",
            name="Brand, then legal",
            steps=[
                {"name": "brand", "group": "brand-approvers"},
                {"name": "legal", "group": "legal-approvers"},
            ],
            kinds=["logo", "guideline"],
        )

    def add(data, filename, *, title, kind, collections=(), tags=(), state="approved", rights=None):
        asset = services.add_asset(
            io.BytesIO(data),
            filename=filename,
            title=title,
            kind=kind,
            collections=collections,
            tags=tags,
            user=uploader,
        )
        if rights:
            editing.update_asset(asset.pk, rights, user=uploader)
        _move_to(asset, state, uploader, approver)
        return asset

    count = 0
    for colour, hex_colour in BOTTLE_COLOURS.items():
        sku = f"WB-750-SS-{colour}"
        name = colour.lower()
        views = (("front", bottle_front), ("side", bottle_side), ("top", bottle_top))
        for view, draw in views:
            # The green bottle's shots are still being reviewed; its top view was rejected.
            state = "approved"
            if colour == "GREEN":
                state = "rejected" if view == "top" else "in_review"
            add(
                render(draw(hex_colour)),
                f"{sku}_{view}.jpg",
                title=f"Water bottle 750 ml {name}, {view}",
                kind="packshot",
                collections=["packshots"],
                tags=["water bottle", name, sku],
                state=state,
            )
            count += 1
    for view, draw in (("front", machine_front), ("side", machine_side), ("top", machine_top)):
        add(
            render(draw()),
            f"EP-3000_{view}.jpg",
            title=f"EspressoPro 3000, {view}",
            kind="packshot",
            collections=["packshots"],
            tags=["espresso", "EP-3000"],
            state="draft" if view == "top" else "approved",
        )
        count += 1
    add(
        render(bottle_lifestyle(BOTTLE_COLOURS["BLUE"])),
        "WB-750-SS-BLUE_lifestyle.jpg",
        title="Water bottle at sunset (summer campaign)",
        kind="lifestyle",
        collections=["campaign-summer"],
        tags=["summer", "WB-750-SS-BLUE"],
        rights={
            "licence": "Campaign licence, Germany only",
            "territories": ["DE"],
            "creator": "Studio Nord",
            "copyright": "© Studio Nord",
        },
    )
    add(
        render(machine_lifestyle()),
        "EP-3000_lifestyle.jpg",
        title="EspressoPro in the kitchen",
        kind="lifestyle",
        collections=["campaign-summer"],
        tags=["espresso", "EP-3000"],
        rights={
            "licence": "Stock photo, 12 months",
            "expires_at": now + datetime.timedelta(days=10),
        },
    )
    add(
        render(bottle_lifestyle(BOTTLE_COLOURS["BLACK"])),
        "WB-750-SS-BLACK_lifestyle.jpg",
        title="Water bottle, last summer's campaign",
        kind="lifestyle",
        collections=["campaign-summer"],
        tags=["summer", "WB-750-SS-BLACK"],
        rights={"licence": "Campaign licence 2024", "expires_at": now - datetime.timedelta(days=3)},
    )
    add(
        brewing_clip(),
        "EP-3000_brewing.mp4",
        title="EspressoPro brewing an espresso",
        kind="video",
        collections=["campaign-summer"],
        tags=["espresso", "EP-3000"],
        state="in_review",
    )
    add(
        text_pdf("EspressoPro 3000 - Setup guide", SETUP_GUIDE),
        "EP-3000_setup-guide.pdf",
        title="EspressoPro 3000 setup guide",
        kind="manual",
        tags=["EP-3000", "manual"],
    )
    add(
        text_pdf("Warranty", WARRANTY),
        "warranty.pdf",
        title="Warranty conditions",
        kind="other",
        tags=["warranty"],
        state="draft",
    )
    count += 6
    add(
        logo_svg().encode(),
        "aqualine-logo.svg",
        title="Aqualine logo (SVG)",
        kind="logo",
        collections=[BRAND_KIT],
    )
    add(
        render(logo_svg(), "png"),
        "aqualine-logo.png",
        title="Aqualine logo (PNG)",
        kind="logo",
        collections=[BRAND_KIT],
    )
    add(
        render(logo_svg(negative=True), "png"),
        "aqualine-logo-negative.png",
        title="Aqualine logo, negative (PNG)",
        kind="logo",
        collections=[BRAND_KIT],
    )
    add(
        espressopro_logo_svg().encode(),
        "espressopro-logo.svg",
        title="EspressoPro logo",
        kind="logo",
        collections=[BRAND_KIT],
        state="in_review",
    )
    add(
        text_pdf("Aqualine brand guidelines", GUIDELINES),
        "aqualine-brand-guidelines.pdf",
        title="Aqualine brand guidelines",
        kind="guideline",
        collections=[BRAND_KIT],
    )
    count += 5
    brandkit.add_palette(BRAND_KIT, "Aqualine colours", PALETTE)
    out.write(
        f"Demo assets: {count} files (packshots, lifestyle, brewing clip, setup guide, "
        f"warranty, logos) in approved, in-review, draft and rejected states; brand kit "
        f"{BRAND_KIT} with a palette. Previews are made by the worker.\n"
    )


def _move_to(asset: Asset, state: str, uploader, approver) -> None:
    from folio.assets import workflow

    if state == "draft":
        return
    workflow.submit_for_review(asset.pk, user=uploader)
    if state == "in_review":
        return
    if approver is None:
        log.warning("demo: no approver user; asset %s stays in review", asset.pk)
        return
    if state == "rejected":
        workflow.reject(asset.pk, comment="The cap is cut off; please reshoot.", user=approver)
        return
    # Every step of the asset's workflow (one, or brand then legal for brand material).
    while Asset.objects.filter(pk=asset.pk, status=Asset.Status.IN_REVIEW).exists():
        workflow.approve(asset.pk, comment="Looks good.", user=approver)
