"""Matching a keyword export file to the catalog: which department (and chief complaint) it describes.

The answer comes from the folder and file names (``resolve_target``); names the catalog lacks become new entries
when the layout says what they are (``new_entries``), anything else is rejected, never guessed. ``parse_source``
matches and parses one file; the import pipeline (``keywords.importer``) does the same a chunk at a time.
"""

from __future__ import annotations

import re
import unicodedata

from medipersona.catalog.service import Catalog, ChiefComplaint, Department, get_catalog, normalize_name
from medipersona.keywords.pack import encode
from medipersona.keywords.parsing import RejectFile, decode, parse_text
from medipersona.keywords.sources import Source
from medipersona.keywords.writing import ParsedFile

COMPLAINT_DIR_NAMES = {"主訴", "chief_complaints", "chief_complaint", "complaints"}

_STEM_SUFFIXES = re.compile(r"(?:[_\-\s]*(?:全体|all|全て|すべて))?(?:\s*\(\d+\)|\s*-\s*コピー|_\d{8})*$",
                            re.IGNORECASE)


def clean_stem(stem: str) -> str:
    """``内科_全体`` → ``内科``; also drops ``(1)`` / ``- コピー`` that copying files adds."""
    text = unicodedata.normalize("NFKC", stem).strip()
    previous = None
    while previous != text:
        previous = text
        text = _STEM_SUFFIXES.sub("", text).strip(" _-")
    return text


def _new_department(name: str) -> Department:
    from medipersona.catalog.editing import infer_section, new_department_id

    return Department(id=new_department_id(name), name=name, section=infer_section(name), chief_complaints=())


def _complaint_in(department: Department, name: str, catalog: Catalog) -> ChiefComplaint:
    """The department's complaint of that name, or a new one (its id derived from the name: stable)."""
    from medipersona.catalog.editing import new_complaint_id

    found = catalog.chief_complaint_by_name(department.id, name)
    if found is not None:
        return found
    return ChiefComplaint(id=new_complaint_id(department.id, name), name=name, department_id=department.id,
                          kind="procedure")


def _department_named(name: str, catalog: Catalog) -> Department:
    return catalog.department_by_name(name) or _new_department(name)


def resolve_target(source: Source, catalog: Catalog) -> tuple[Department, ChiefComplaint | None]:
    """The department (and complaint) a file describes, from its folder names and file name.

    A name the catalog lacks is not an error when the layout says what it is: ``{診療科}/主訴/{主訴}.csv`` or
    ``{診療科}/{主訴}.csv`` (a known department folder) name a complaint of that department, ``{診療科}/{診療科}.csv``
    a department; such entries come back with the stable id they get when added (``new_entries``)."""
    stem = clean_stem(source.stem)
    if not stem:
        raise RejectFile("ファイル名から診療科・主訴を判別できません。")
    dirs = [clean_stem(p) for p in source.parts if p]
    keys = [normalize_name(p) for p in dirs]
    complaint_dir = max((i for i, k in enumerate(keys) if k in COMPLAINT_DIR_NAMES), default=None)
    if complaint_dir and dirs[complaint_dir - 1]:
        # {診療科}/主訴/{主訴}.csv: the folder above 主訴 is the department, known or new.
        department = _department_named(dirs[complaint_dir - 1], catalog)
        return department, _complaint_in(department, stem, catalog)
    folder_department: Department | None = None
    for part in reversed(dirs):
        found = catalog.department_by_name(part)
        if found is not None:
            folder_department = found
            break
    named_department = catalog.department_by_name(stem)
    if named_department is not None and folder_department in (None, named_department):
        return named_department, None
    if dirs and normalize_name(dirs[-1]) == normalize_name(stem):
        # {診療科}/{診療科}_全体.csv: a department-level file, known or new.
        return _department_named(stem, catalog), None
    # 内科_風邪 / 内科-風邪 / 内科 風邪
    for sep in ("_", "-", " ", "／", "・"):
        if sep in stem:
            head, tail = stem.split(sep, 1)
            dep = catalog.department_by_name(head)
            if dep is not None and (folder_department in (None, dep)) and clean_stem(tail):
                return dep, _complaint_in(dep, clean_stem(tail), catalog)
    if folder_department is not None:
        return folder_department, _complaint_in(folder_department, stem, catalog)
    key = normalize_name(stem)
    matches = [c for d in catalog.departments for c in d.chief_complaints if normalize_name(c.name) == key]
    if len(matches) == 1:
        found = catalog.department(matches[0].department_id)
        assert found is not None  # a complaint's department is in the catalog
        return found, matches[0]
    if len(matches) > 1:
        names = "、".join(d.name if (d := catalog.department(c.department_id)) else c.department_id for c in matches)
        raise RejectFile(
            f"主訴「{stem}」は複数の診療科（{names}）にあります。フォルダ名（例: 内科/主訴/{stem}.csv）か"
            f"ファイル名（例: 内科_{stem}.csv）で診療科を指定してください。"
        )
    raise RejectFile(
        f"「{stem}」の診療科を判別できません。診療科のフォルダに入れてください（例: 眼科/主訴/{stem}_全体.csv、"
        f"新しい診療科は 診療科名/診療科名_全体.csv）。"
    )


def new_entries(department: Department, complaint: ChiefComplaint | None, catalog: Catalog) -> tuple:
    """What the catalog lacks for this target (``catalog.editing.NewEntry``: added when the file is written)."""
    from medipersona.catalog.editing import NewEntry

    out = []
    if catalog.department(department.id) is None:
        out.append(NewEntry("department", department.id, department.name, department.id, department.name,
                            department.section))
    if complaint is not None and catalog.chief_complaint(complaint.id) is None:
        out.append(NewEntry("chief_complaint", complaint.id, complaint.name, department.id, department.name,
                            department.section))
    return tuple(out)


def parse_source(source: Source, catalog: Catalog | None = None) -> ParsedFile:
    """Match, read, decode and parse one file (CPU work: call it in a worker thread)."""
    catalog = catalog or get_catalog()
    department, complaint = resolve_target(source, catalog)
    rows = parse_text(decode(source.read()))
    return ParsedFile(source.name, department, complaint, encode(rows), len(rows),
                      new_entries(department, complaint, catalog))
