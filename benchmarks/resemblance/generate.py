"""The labelled pairs of the resemblance evaluation, from the hand-written proposals beside this file.

- claimed copy (positive): an original as another region would pass it off as its own: its region, the
  region's short forms and the innovation's name replaced; numbers and dates changed; sentences shuffled
  within sections; some words edited, some sentences replaced by the copier's own, a few added. Three
  intensities per original: "light", "heavy" (which also swaps two sections' texts) and "reworded"
  (most sentences edited, a quarter replaced).
- declared replication (negative for "claimed copy"): adapted more freely, with `replicates` naming the
  original (by its regency, or by its title alone), as KIPP's replication group asks.
- paraphrase (negative): the same idea written independently by another region (paraphrases.json).
- unrelated (negative): two different originals of the same category, which share the genre's language.

The originals are the 14 of originals.json and the five demo proposals. Each pair belongs to the split
of its original ("tune" for even positions, "holdout" for odd ones; an unrelated pair to its earlier
proposal's), so parameters chosen on one half are reported on the other. `python -m
benchmarks.resemblance.generate` prints the pairs as JSON for reading.
"""

import copy
import json
import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 2023

# Regions a copier or a replicator writes from, with the short form its texts use.
COPIERS = [
    ("Kabupaten Bangka Tengah", "Kepulauan Bangka Belitung", "Bateng"),
    ("Kabupaten Kutai Kartanegara", "Kalimantan Timur", "Kukar"),
    ("Kabupaten Lampung Selatan", "Lampung", "Lamsel"),
    ("Kabupaten Minahasa Utara", "Sulawesi Utara", "Minut"),
    ("Kabupaten Tanjung Jabung Barat", "Jambi", "Tanjabbar"),
    ("Kabupaten Hulu Sungai Selatan", "Kalimantan Selatan", "HSS"),
    ("Kota Tasikmalaya", "Jawa Barat", "Tasik"),
    ("Kabupaten Ogan Komering Ilir", "Sumatera Selatan", "OKI"),
    ("Kabupaten Sleman", "Daerah Istimewa Yogyakarta", "Sleman"),
    ("Kabupaten Buleleng", "Bali", "Buleleng"),
    ("Kabupaten Lombok Tengah", "Nusa Tenggara Barat", "Loteng"),
    ("Kota Bontang", "Kalimantan Timur", "Bontang"),
]
MONTH_NAMES = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
    "November", "Desember",
]  # fmt: skip
# Light edits a copier makes: a word for another of the same sense.
SYNONYMS = {
    "naik": "meningkat", "turun": "berkurang", "sebelumnya": "sebelum ini", "warga": "penduduk",
    "memakai": "menggunakan", "menggunakan": "memakai", "dapat": "bisa", "petugas": "pegawai",
    "dimulai": "diawali", "mengunjungi": "mendatangi", "membantu": "menolong", "setiap": "tiap",
    "sekitar": "kurang lebih", "sehingga": "hingga", "banyak": "sejumlah", "menjadi": "jadi",
    "cepat": "segera", "tempat": "lokasi", "terjadwal": "sesuai jadwal", "langsung": "secara langsung",
    "rata-rata": "umumnya", "hanya": "cuma", "lebih": "makin", "keluarga": "rumah tangga",
    "kecil": "mikro", "jauh": "berjauhan", "lansia": "warga lanjut usia", "bulan": "bulannya",
    "diumumkan": "disampaikan", "dilatih": "diberi pelatihan", "tetap": "masih",
}  # fmt: skip
# What a copier writes of its own: sentences about its own circumstances, none taken from an original.
OWN_SENTENCES = [
    "Kondisi wilayah kami yang terdiri atas perbukitan dan pesisir membuat jarak tempuh penduduk cukup jauh.",
    "Gagasan ini lahir dari rapat evaluasi akhir tahun yang dipimpin sekretaris daerah.",
    "Tim kecil dibentuk untuk menyusun prosedur dan mengujinya di dua lokasi percontohan.",
    "Kami bekerja sama dengan perguruan tinggi setempat untuk mengukur dampaknya secara berkala.",
    "Keberhasilan ini diapresiasi oleh gubernur dalam forum perangkat daerah se-provinsi.",
    "Pimpinan daerah memberikan dukungan penuh melalui surat edaran kepada semua camat.",
    "Masukan dari tokoh adat dan tokoh agama membantu kami menyesuaikan pendekatan di lapangan.",
    "Kendala utama pada tahap awal adalah jaringan telekomunikasi yang belum merata.",
    "Laporan perkembangan disampaikan kepada DPRD dalam rapat dengar pendapat.",
    "Media lokal ikut menyebarluaskan informasi sehingga partisipasi penduduk bertambah.",
    "Pelibatan kaum muda menjadi kunci karena mereka cepat menguasai teknologi.",
    "Kami menyiapkan buku panduan bergambar agar petugas baru mudah memahami alurnya.",
]
REPLICATION_INTROS = [
    "Inovasi ini mereplikasi {title} dari {regency} dengan penyesuaian pada kondisi setempat.",
    "Kami mempelajari langsung penerapan {title} di {regency} melalui studi tiru pada tahun lalu.",
]
SECTIONS = (
    "summary", "background", "novelty", "implementation", "significance", "adaptability", "resources",
    "sustainability",
)  # fmt: skip
DEMO_ALIASES = ["Babar"]


@dataclass(frozen=True)
class Pair:
    kind: str  # copy, replication, paraphrase, unrelated
    variant: str  # light, heavy, reworded, or ""
    origin: str  # the original's key
    split: str  # tune or holdout
    earlier: dict[str, Any]
    later: dict[str, Any]

    @property
    def claimed_copy(self) -> bool:
        return self.kind == "copy"


def _load(name: str) -> list[dict[str, Any]]:
    proposals: list[dict[str, Any]] = json.loads((HERE / name).read_text(encoding="utf-8"))["proposals"]
    return proposals


def originals() -> list[dict[str, Any]]:
    demo = json.loads(
        resources.files("shared.demo").joinpath("demo-bangka-barat-2023.json").read_text(encoding="utf-8")
    )["proposals"]
    shaped = [
        {**p, "key": f"demo-{number}", "aliases": DEMO_ALIASES, "brand": ""}
        for number, p in enumerate(demo, start=1)
    ]
    return [*_load("originals.json"), *shaped]


def _bare(regency: str) -> str:
    return re.sub(r"^(Kabupaten|Kota)\s+", "", regency)


class Copier:
    """Rewrites an original as one region would pass it off (or adapt it) as its own."""

    def __init__(self, rng: random.Random, original: dict[str, Any], region: tuple[str, str, str]) -> None:
        self.rng = rng
        self.original = original
        self.regency, self.province, self.short = region
        self.brand = self._coined_name() if original.get("brand") else ""

    def _coined_name(self) -> str:
        syllables = ["SI", "GA", "PA", "TAN", "MAS", "RI", "DU", "LA", "KU", "NA", "JA", "BE"]
        return "".join(self.rng.sample(syllables, 3)) + " " + self.rng.choice(["PRIMA", "TUNTAS", "BERSAMA"])

    def rename(self, text: str) -> str:
        o = self.original
        if self.brand:
            text = text.replace(o["brand"], self.brand)
        text = text.replace(o["region"]["regency"], self.regency)
        text = text.replace(_bare(o["region"]["regency"]), _bare(self.regency))
        text = text.replace(o["region"]["province"], self.province)
        for alias in o.get("aliases", []):
            text = re.sub(rf"\b{re.escape(alias)}\b", self.short, text)
        return text

    def renumber(self, text: str) -> str:
        def number(found: re.Match[str]) -> str:
            digits = found.group(0)
            value = int(digits.replace(".", ""))
            if 1990 <= value <= 2030:
                return str(value + self.rng.choice([1, 2]))
            changed = max(1, round(value * self.rng.uniform(0.6, 1.5)))
            return f"{changed:,}".replace(",", ".") if "." in digits else str(changed)

        text = re.sub(r"\d[\d.]*\d|\d", number, text)
        months = "|".join(MONTH_NAMES)
        return re.sub(rf"\b({months})\b", lambda _: self.rng.choice(MONTH_NAMES), text)

    def edit_words(self, sentence: str, changes: int = 1) -> str:
        """Up to `changes` + 1 words replaced by a synonym and `changes` words dropped."""
        words = sentence.split(" ")
        places = [i for i, w in enumerate(words) if w.lower().strip(",.") in SYNONYMS]
        for i in self.rng.sample(places, min(len(places), changes + 1)):
            bare = words[i].strip(",.")
            words[i] = words[i].replace(bare, SYNONYMS[bare.lower()])
        for _ in range(changes):
            droppable = [i for i, w in enumerate(words[1:-1], start=1) if len(w) > 3 and not w.endswith(",")]
            if droppable:
                del words[self.rng.choice(droppable)]
        return " ".join(words)

    def rewrite(
        self, edit: float, replace: float, added: int, swap: bool, changes: int = 1
    ) -> dict[str, Any]:
        o = self.original
        sections = {}
        own = self.rng.sample(OWN_SENTENCES, len(OWN_SENTENCES))  # each used once, while they last
        for name in SECTIONS:
            sentences = re.split(r"(?<=[.!?])\s+", self.renumber(self.rename(o["sections"][name])))
            self.rng.shuffle(sentences)
            out = []
            for sentence in sentences:
                roll = self.rng.random()
                if roll < replace:
                    out.append(own.pop() if own else self.edit_words(sentence))
                elif roll < replace + edit:
                    out.append(self.edit_words(sentence, changes))
                else:
                    out.append(sentence)
            sections[name] = out
        for sentence in own[:added]:
            sections[self.rng.choice(SECTIONS)].append(sentence)
        if swap:
            first, second = self.rng.sample(SECTIONS, 2)
            sections[first], sections[second] = sections[second], sections[first]
        title = self.rename(o["title"])
        if swap:
            title = self.edit_words(title)
        return {
            "round": 2023,
            "group": "umum",
            "category": o["category"],
            "title": title,
            "agency": {"name": self.rename(o["agency"]["name"]), "kind": o["agency"]["kind"]},
            "region": {"regency": self.regency, "province": self.province},
            "sections": {name: " ".join(text) for name, text in sections.items()},
        }

    def replicate(self, by_title_only: bool) -> dict[str, Any]:
        o = self.original
        proposal = self.rewrite(edit=0.35, replace=0.3, added=3, swap=False, changes=2)
        intro = self.rng.choice(REPLICATION_INTROS).format(title=o["title"], regency=o["region"]["regency"])
        proposal["sections"]["summary"] = intro + " " + proposal["sections"]["summary"]
        proposal["group"] = "khusus"
        proposal["replicates"] = {
            "title": o["title"],
            "region": "di daerah lain" if by_title_only else o["region"]["regency"],
        }
        return proposal


def pairs(seed: int = SEED) -> list[Pair]:
    rng = random.Random(seed)
    found: list[Pair] = []
    sources = originals()
    split_of = {o["key"]: ("tune" if number % 2 == 0 else "holdout") for number, o in enumerate(sources)}
    for number, original in enumerate(sources):
        earlier = {**copy.deepcopy(original), "round": 2023, "group": "umum"}
        key, split = original["key"], split_of[original["key"]]
        for variant, settings in (
            ("light", {"edit": 0.15, "replace": 0.05, "added": 1, "swap": False}),
            ("heavy", {"edit": 0.3, "replace": 0.15, "added": 2, "swap": True}),
            ("reworded", {"edit": 0.6, "replace": 0.25, "added": 3, "swap": True, "changes": 2}),
        ):
            later = Copier(rng, original, rng.choice(COPIERS)).rewrite(**settings)  # type: ignore[arg-type]
            found.append(Pair("copy", variant, key, split, earlier, later))
        if number % 3 != 2:  # two originals in three are also replicated openly
            later = Copier(rng, original, rng.choice(COPIERS)).replicate(by_title_only=number % 3 == 1)
            found.append(Pair("replication", "", key, split, earlier, later))
    by_key = {o["key"]: o for o in sources}
    for paraphrase in _load("paraphrases.json"):
        key = paraphrase["of"]
        earlier = {**copy.deepcopy(by_key[key]), "round": 2023, "group": "umum"}
        later = {**paraphrase, "round": 2023, "group": "umum"}
        found.append(Pair("paraphrase", "", key, split_of[key], earlier, later))
    same_category = [
        (a, b) for a in sources for b in sources if a["key"] < b["key"] and a["category"] == b["category"]
    ]
    for a, b in rng.sample(same_category, 26):
        earlier, later = ({**copy.deepcopy(p), "round": 2023, "group": "umum"} for p in (a, b))
        found.append(Pair("unrelated", "", a["key"], split_of[a["key"]], earlier, later))
    return found


if __name__ == "__main__":
    print(json.dumps([pair.__dict__ for pair in pairs()], ensure_ascii=False, indent=1))
