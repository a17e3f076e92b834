"""The demo data: five proposals of Kabupaten Bangka Barat for KIPP 2023 (made-up texts, real agencies)."""
