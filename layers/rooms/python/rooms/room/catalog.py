"""The template catalog: built-in templates overlaid with this deployment's overrides."""

from __future__ import annotations

from datetime import datetime

from rooms import store
from rooms.clock import iso
from rooms.errors import InvalidInput
from rooms.room.models import TemplateIn, TemplateList, TemplateView
from rooms.room.templates import BUILTIN_TEMPLATES, Template, canonical_template_name


def get_template(name: str) -> Template | None:
    """The effective template called ``name`` (one GetItem for a possible override)."""
    name = canonical_template_name(name)
    override = store.get_template_override(name)
    if override is not None:
        return Template.model_validate({**override.body.as_dict(), "name": name})
    return BUILTIN_TEMPLATES.get(name)


def list_templates() -> TemplateList:
    overrides = {o.name: o for o in store.list_template_overrides()}
    views: list[TemplateView] = []
    for name in sorted(set(BUILTIN_TEMPLATES) | set(overrides)):
        if name in overrides:
            body = {**overrides[name].body.as_dict(), "name": name}
            source = "override" if name in BUILTIN_TEMPLATES else "custom"
            views.append(TemplateView.model_validate({**body, "source": source}))
        else:
            views.append(TemplateView.model_validate({**BUILTIN_TEMPLATES[name].model_dump(), "source": "builtin"}))
    return TemplateList(templates=views)


def put_template(name: str, body: TemplateIn, *, actor: str, now: datetime) -> TemplateView:
    name = canonical_template_name(name)
    try:
        template = Template.model_validate({**body.model_dump(), "name": name})
    except ValueError as err:
        raise InvalidInput(str(err).splitlines()[-1].strip(), code="invalid_template", field="name") from err
    data = template.model_dump(exclude={"name"})
    store.put_template_override(name, data, now=iso(now), actor=actor)
    source = "override" if name in BUILTIN_TEMPLATES else "custom"
    return TemplateView.model_validate({**template.model_dump(), "source": source})
