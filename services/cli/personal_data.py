"""Personal data requests (UU PDP 27/2022): a person's access request and erasure, and the master key's
rotation. Each prints one JSON object."""

import json
from typing import Any

import typer

from services.cli import app, fail, with_pool
from services.personal_data import RotationRefused, erase, rotate_master_key, show
from shared.personal_data.master_key import MasterKey, MasterKeyInvalid, load_master_key
from shared.settings import CommonSettings
from shared.signing import KeyFileMissing

personal = typer.Typer(help="Personal data: a person's access and erasure requests.", no_args_is_help=True)
app.add_typer(personal, name="personal-data")

EmailOption = typer.Option(..., "--email", help="The person's e-mail address, as they gave it.")


def _print(report: dict[str, Any]) -> None:
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))


def _master_key() -> MasterKey:
    """The configured master key; a missing or wrong file is one line and exit 2."""
    try:
        return load_master_key(CommonSettings().master_key_file)
    except (KeyFileMissing, MasterKeyInvalid) as error:
        fail(str(error), 2)


@personal.command("show")
def show_command(email: str = EmailOption) -> None:
    """What the ledger holds of this person (an access request): their subject id, the proposals that
    hold their fields, intake's plain copies, and every event holding their fields (decrypted here), or
    in plain text when recorded before fields were encrypted."""
    master = _master_key()
    _print(with_pool(lambda pool: show(pool, master, email)))


@personal.command("erase")
def erase_command(email: str = EmailOption) -> None:
    """Erase this person: destroy their data key and intake's plain copies, and record the erasure (with
    no personal data) in each proposal that held their fields. From then on every view shows their fields
    as erased. Harmless when repeated."""
    master = _master_key()
    erasure = with_pool(lambda pool: erase(pool, master, email))
    _print(erasure.report())


@personal.command("rotate-master-key")
def rotate_command() -> None:
    """Re-wrap every data key under a new master key, written to KIPP_MASTER_KEY_FILE; the old key file is
    kept beside it as .retired-<check value>, to be destroyed once no backup needs it. Stop intake and
    review first (refused while they are connected), start them again after."""
    settings = CommonSettings()
    try:
        _print(with_pool(lambda pool: rotate_master_key(pool, settings.master_key_file)))
    except (RotationRefused, KeyFileMissing, MasterKeyInvalid) as error:
        fail(str(error), 2)
