"""The words the console shows for the ledger's names: statuses, sections, documents, event types, roles.
The API keeps its English names; these are what a reviewer at a regency office reads."""

STATUSES = {
    "submitted": "Diajukan",
    "revision_requested": "Diminta revisi",
    "verified": "Terverifikasi",
    "validated": "Tervalidasi",
    "registered": "Terdaftar di SINOVIK",
    "top99": "Top 99",
    "top45": "Top 45",
    "winner": "Pemenang",
    "not_selected": "Tidak terpilih",
    "verification_failed": "Tidak lolos verifikasi",
    "validation_failed": "Tidak lolos validasi",
    "withdrawn": "Ditarik",
}

SECTIONS = {
    "summary": "Ringkasan",
    "background": "Latar belakang",
    "novelty": "Kebaruan",
    "implementation": "Implementasi",
    "significance": "Signifikansi",
    "adaptability": "Adaptabilitas",
    "resources": "Sumber daya",
    "sustainability": "Keberlanjutan",
}

DOCUMENTS = {
    "implementation_statement": "Surat pernyataan implementasi",
    "innovator_identity": "Identitas inovator",
    "replication_willingness": "Surat kesediaan direplikasi",
    "initiator_decree": "SK inisiator",
    "initiation_proof": "Bukti inisiasi",
}

EVENTS = {
    "ProposalSubmitted": "Proposal diajukan",
    "ProposalRevised": "Revisi dikirim",
    "ProposalWithdrawn": "Proposal ditarik",
    "ProposalVerified": "Verifikasi: lolos",
    "VerificationFailed": "Verifikasi: tidak lolos",
    "ProposalValidated": "Validasi: lolos",
    "ValidationFailed": "Validasi: tidak lolos",
    "RevisionRequested": "Revisi diminta",
    "ProposalRegistered": "Didaftarkan di SINOVIK",
    "SelectionRecorded": "Hasil seleksi nasional",
}

ROLES = {"submitter": "pengaju", "reviewer": "peninjau", "auditor": "auditor"}

AGENCY_KINDS = {"opd": "OPD", "bumd": "BUMD", "uptd": "UPTD", "other": "Lainnya"}

OUTCOMES = {
    "passed": "lolos",
    "failed": "tidak lolos",
    "selected": "terpilih",
    "not_selected": "tidak terpilih",
}

STAGES = {"top99": "Top 99", "top45": "Top 45", "winner": "Pemenang"}


def label(table: dict[str, str], name: str | None) -> str:
    """The label of `name`, or the name itself for one this console does not know (a newer event type)."""
    if name is None:
        return "-"
    return table.get(name, name)
