"""The template catalog: built-in templates overlaid with this deployment's overrides."""

from __future__ import annotations

from datetime import datetime

from rooms import store
from rooms.clock import iso
from rooms.errors import InvalidInput, NotFound
from rooms.observability import logger
from rooms.room.models import TemplateDeleted, TemplateIn, TemplateList, TemplateView
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
    fields = body.model_dump()
    if "description" not in body.model_fields_set and name in BUILTIN_TEMPLATES:
        fields["description"] = BUILTIN_TEMPLATES[name].description  # an override keeps what it overrides
    try:
        template = Template.model_validate({**fields, "name": name})
    except ValueError as err:
        raise InvalidInput(str(err).splitlines()[-1].strip(), code="invalid_template", field="name") from err
    data = template.model_dump(exclude={"name"})
    store.put_template_override(name, data, now=iso(now), actor=actor)
    source = "override" if name in BUILTIN_TEMPLATES else "custom"
    return TemplateView.model_validate({**template.model_dump(), "source": source})


def delete_template(name: str, *, actor: str) -> TemplateDeleted:
    """Remove this deployment's override (a built-in template is back to its defaults) or custom
    template. Rooms keep the settings they were created with. 404 for a name that is neither."""
    name = canonical_template_name(name)
    removed = store.delete_template_override(name)
    if not removed and name not in BUILTIN_TEMPLATES:
        raise NotFound(f"no template {name!r}", code="template_not_found")
    builtin = BUILTIN_TEMPLATES.get(name)
    logger.info("template override removed", extra={"action": "template.delete", "actor": actor, "template": name,
                                                    "removed": removed})
    return TemplateDeleted(
        name=name, removed=removed,
        template=TemplateView.model_validate({**builtin.model_dump(), "source": "builtin"}) if builtin else None,
    )
