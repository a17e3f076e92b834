"""How a pydantic ValidationError is put into words wherever the words leave the process: a log line, a
dead letter's header, a parked row, a command's output.

pydantic's own text (`str(error)`) quotes each refused value (`input_value='Budi Santoso'`): a message
refused because its innovator came in plain text would carry the person's name, e-mail and phone into
every place its reason goes. The words here name the field and what is wrong with it, never the value.
"""

from pydantic import ValidationError


def field_path(location: tuple[int | str, ...]) -> str:
    """('body', 'sections', 'summary') -> 'sections.summary'; ('body', 'sdgs', 2) -> 'sdgs[2]'."""
    path = ""
    for part in location[1:] if location and location[0] == "body" else location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def refusal(error: ValidationError, whole: str = "the value") -> str:
    """Each refused field's path and pydantic's message about it ('innovator.name: Input should be …'),
    joined by '; '; `whole` names what a refusal of no particular field is about. Never the input."""
    return "; ".join(
        f"{field_path(tuple(found['loc'])) if found['loc'] else whole}: {found['msg']}"
        for found in error.errors(include_input=False, include_url=False, include_context=False)
    )
