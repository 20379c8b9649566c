"""What a persona request may ask for: catalog ids that exist, are not hidden and fit together, and a
department in the user's sections (医科・歯科・その他). Persona sets, interviews and message tests ask the same."""

from __future__ import annotations

from medipersona.accounts.models import User
from medipersona.catalog.service import get_catalog
from medipersona.errors import Forbidden, InvalidInput
from medipersona.personas.schemas import PersonaCreate


def _field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "in": "body", "message": message}


def validate_catalog(user: User, data: PersonaCreate) -> None:
    """Catalog ids exist and fit together; the department is in the user's sections (else 403)."""
    catalog = get_catalog()
    errors: list[dict[str, str]] = []
    department = catalog.department(data.department)
    if department is None:
        errors.append(_field_error("department", "診療科が見つかりません。一覧から選んでください。"))
    elif department.hidden:  # hidden by an admin: gone from the wizard, so from new personas too
        errors.append(_field_error("department", "この診療科は現在選べません（管理者が非表示にしています）。"))
    complaint = catalog.chief_complaint(data.chief_complaint)
    if complaint is None:
        errors.append(_field_error("chief_complaint", "主訴が見つかりません。一覧から選んでください。"))
    elif complaint.hidden:
        errors.append(_field_error("chief_complaint", "この主訴は現在選べません（管理者が非表示にしています）。"))
    elif department is not None and complaint.department_id != department.id:
        errors.append(_field_error("chief_complaint", "選んだ診療科の主訴を選んでください。"))
    if catalog.purpose(data.purpose) is None:
        errors.append(_field_error("purpose", "作成目的が見つかりません。一覧から選んでください。"))
    if data.setting_type == "patient_type":
        if not data.patient_type:
            errors.append(_field_error("patient_type", "患者タイプを選んでください。"))
        elif catalog.patient_type(data.patient_type) is None:
            errors.append(_field_error("patient_type", "患者タイプが見つかりません。一覧から選んでください。"))
    elif data.patient_type and catalog.patient_type(data.patient_type) is None:
        errors.append(_field_error("patient_type", "患者タイプが見つかりません。一覧から選んでください。"))
    if errors:
        raise InvalidInput(fields=errors)
    if department is not None:
        require_section(user, department.id)


def require_section(user: User, department_id: str) -> None:
    """403 unless the department is in one of the user's sections (医科・歯科・その他)."""
    department = get_catalog().department(department_id)
    if department is None or department.section not in (user.sections or []):
        raise Forbidden("この診療科を利用する権限がありません。管理者に利用できる診療科の設定を依頼してください。",
                        code="section_forbidden")
