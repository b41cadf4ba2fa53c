"""The ``crontabber.jobs`` option of a 0.18.1-style application (a ``CronTabberBase`` subclass).

configman converts the jobs text into a class (0.18.1's ``InnerClassList``) whose
``class_list`` holds ``(class name, class)`` pairs and whose ``required_config`` holds one
namespace per class (``class-<ClassName>``) with the entry's ``frequency`` and ``time`` and
the class's own options. Launchers built their own converter from these parts, so the parts
keep 0.18.1's names and signatures; the splitting and schedule rules are ours (``;``, and
``,`` only before the next entry, so cron expressions keep their commas).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from configman import Namespace, RequiredConfig, class_converter
from configman.converters import CannotConvertError

from crontabber.config.options import PER_JOB_KEYS
from crontabber.errors import JobDescriptionError, JobNotFoundError
from crontabber.jobs import split_entries
from crontabber.schedule import looks_like_cron


def line_splitter(text: str) -> list[str]:
    """The jobs text -> entries (comments and blank lines dropped)."""
    return [entry for _, entry in split_entries(text)]


def pipe_splitter(text: str) -> str:
    """``module.Class|1d|03:00`` -> ``module.Class``."""
    return text.split("|", 1)[0].strip()


def get_extra_as_options(text: str) -> Namespace:
    """An entry's schedule as the options ``frequency`` and ``time`` (``|03:00`` is ``1d`` at 03:00)."""
    if "|" not in text:
        raise JobDescriptionError(f"jobs entry {text.strip()!r} has no schedule: write it as "
                                  "module.Class|1h, module.Class|1d|03:00 or module.Class|0 3 * * *")
    parts = [part.strip() for part in text.split("|")[1:]]
    if len(parts) == 1:
        only = parts[0]
        frequency, time = (only, None) if looks_like_cron(only) or ":" not in only else ("1d", only)
    else:
        frequency, time = parts  # a third part is an error, as in 0.18.1
    options = Namespace()
    for name, value in (("frequency", frequency), ("time", time)):
        options.add_option(name, doc=name, default=value, exclude_from_print_conf=True,
                           exclude_from_dump_conf=True)
    for key in PER_JOB_KEYS:  # our per-job settings, empty: the [crontabber] value applies
        options.add_option(key, default="", doc=f"this job's {key}", exclude_from_print_conf=True,
                           exclude_from_dump_conf=True)
    return options


def _default_extra(text: str) -> Namespace:
    raise NotImplementedError


def classes_in_namespaces_converter_with_compression(
        reference_namespace: Mapping[str, Any] | None = None,
        template_for_namespace: str = "class-%(name)s",
        list_splitter_fn: Callable[[str], list[str]] = line_splitter,
        class_extractor: Callable[[str], str] = pipe_splitter,
        extra_extractor: Callable[[str], Namespace] = _default_extra) -> Callable[[str], type]:
    """A configman converter: jobs text -> a ``RequiredConfig`` class listing the classes, with a
    namespace per class (named by ``template_for_namespace``) holding ``extra_extractor``'s
    options and the class's own (those not in ``reference_namespace``)."""
    reference = reference_namespace or {}

    def class_list_converter(text: str) -> type:
        if not isinstance(text, str):
            raise TypeError("the jobs list must be a string")
        required = Namespace()
        names: list[str] = []
        classes: list[tuple[str, type]] = []
        for index, element in enumerate(list_splitter_fn(text)):
            try:
                job_class = class_converter(class_extractor(element))
            except CannotConvertError:
                raise JobNotFoundError(f"jobs entry {element!r}: cannot import "
                                       f"{class_extractor(element)!r}; check the spelling and PYTHONPATH") from None
            classes.append((job_class.__name__, job_class))
            name = template_for_namespace % {"name": job_class.__name__, "index": index}
            names.append(name)
            namespace = required.namespace(name)
            try:
                namespace.update(extra_extractor(element))
            except NotImplementedError:
                pass
            if hasattr(job_class, "get_required_config"):
                for key, value in job_class.get_required_config().items():
                    if key not in reference:
                        namespace[key] = value

        shown = text.replace("\n", "\\n")
        return type("InnerClassList", (RequiredConfig,), {
            "required_config": required, "subordinate_namespace_names": names,
            "namespace_template": template_for_namespace, "original_input": shown, "class_list": classes,
            "to_str": classmethod(lambda cls: cls.original_input)})

    return class_list_converter


jobs_converter = classes_in_namespaces_converter_with_compression(
    reference_namespace=Namespace(), list_splitter_fn=line_splitter, class_extractor=pipe_splitter,
    extra_extractor=get_extra_as_options)
