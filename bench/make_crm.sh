#!/usr/bin/env bash
# The benchmarks' second dataset, shaped unlike restorekit's sample generator and made only with
# stock tools (sqlite3, python3, zip, bsdtar): a CRM-like SQLite database of ~45 MB in 10
# tables (text-heavy rows, composite keys with and without rowid, a table without any key,
# BLOBs, declared foreign keys), 6,000 small documents (~2-60 KB; text and incompressible
# binary), and the live system a working day later (rows updated, inserted and deleted, the
# database in WAL mode, documents changed, added and removed).
# Usage: bench/make_crm.sh DIR   (makes DIR/app/{crm.sqlite,docs}, DIR/live/{crm.sqlite,docs})
set -euo pipefail
dir="$1"
[ -f "$dir/live/crm.sqlite" ] && exit 0
rm -rf "$dir" && mkdir -p "$dir/app/docs"

# Text drawn from a fixed passage at pseudo-random offsets: repetitive like real prose, unlike
# hex noise.
words="substr('Invoice overdue, please call back before Friday. The customer asked for a \
refund of the second shipment; delivery to the Hamburg warehouse was delayed by two weeks. \
Notes from the meeting: renewal at the same price, upgrade to the premium plan next quarter, \
contact the finance department about the open balance. Ticket escalated to second level \
support after three attempts. Der Kunde wünscht eine Rückmeldung bis Montag. Paiement reçu, \
merci. Contract signed by both parties, archived in the shared folder.', 1 + abs(random()) % 300"
text() { echo "$words, $1)"; }

sqlite3 "$dir/app/crm.sqlite" <<SQL
PRAGMA page_size = 4096;
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT NOT NULL, industry TEXT,
  address TEXT, notes TEXT);
CREATE TABLE contacts(company_id INTEGER NOT NULL REFERENCES companies(id), seq INTEGER NOT NULL,
  first_name TEXT, last_name TEXT, email TEXT, phone TEXT, bio TEXT,
  PRIMARY KEY(company_id, seq)) WITHOUT ROWID;
CREATE TABLE deals(id INTEGER PRIMARY KEY, company_id INTEGER REFERENCES companies(id),
  title TEXT, stage TEXT, amount REAL, description TEXT);
CREATE INDEX deals_by_company ON deals(company_id, stage);
CREATE TABLE activities(deal_id INTEGER REFERENCES deals(id), at TEXT, kind TEXT, body TEXT,
  PRIMARY KEY(deal_id, at, kind));
CREATE TABLE emails(id INTEGER PRIMARY KEY, company_id INTEGER, contact_seq INTEGER,
  subject TEXT, body TEXT,
  FOREIGN KEY(company_id, contact_seq) REFERENCES contacts(company_id, seq));
CREATE TABLE attachments(id INTEGER PRIMARY KEY, email_id INTEGER REFERENCES emails(id),
  name TEXT, mime TEXT, data BLOB);
CREATE TABLE tags(name TEXT PRIMARY KEY, color TEXT) WITHOUT ROWID;
CREATE TABLE deal_tags(deal_id INTEGER REFERENCES deals(id), tag TEXT REFERENCES tags(name),
  PRIMARY KEY(deal_id, tag)) WITHOUT ROWID;
CREATE TABLE audit_log(at TEXT, who TEXT, what TEXT);
CREATE TABLE documents(path TEXT PRIMARY KEY, company_id INTEGER, bytes INTEGER, kind TEXT);
CREATE INDEX documents_by_company ON documents(company_id);

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO companies SELECT i, 'Company ' || i || ' ' || $(text 12),
  CASE i % 5 WHEN 0 THEN 'retail' WHEN 1 THEN 'logistics' WHEN 2 THEN 'software'
    WHEN 3 THEN 'health' ELSE 'finance' END,
  i || ' Main Street, ' || (10000 + i % 89999) || ' Springfield', $(text 300) FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39999)
INSERT INTO contacts SELECT 1 + i % 5000, i / 5000, 'First' || (i % 977), 'Last' || (i % 3119),
  'person' || i || '@example.org', '+49 40 ' || (1000000 + i * 7919 % 8999999), $(text 350)
  FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO deals SELECT i, 1 + i * 7 % 5000, 'Deal ' || $(text 40),
  CASE i % 4 WHEN 0 THEN 'lead' WHEN 1 THEN 'offer' WHEN 2 THEN 'won' ELSE 'lost' END,
  (i * 7919 % 1000000) / 100.0, $(text 250) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO activities SELECT 1 + i % 20000, datetime(1700000000 + i * 613, 'unixepoch'),
  CASE i % 3 WHEN 0 THEN 'call' WHEN 1 THEN 'mail' ELSE 'visit' END, $(text 140) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 15000)
INSERT INTO emails SELECT i, 1 + i % 5000, i % 8, 'Re: ' || $(text 50), $(text 600) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
INSERT INTO attachments SELECT i, i * 23 % 15000 + 1, 'scan-' || i || '.png', 'image/png',
  randomblob(2000 + i * 13 % 6000) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
INSERT INTO tags SELECT 'tag-' || i, printf('#%06x', i * 411347 % 16777216) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
INSERT OR IGNORE INTO deal_tags SELECT 1 + i % 20000, 'tag-' || (1 + i * 7 % 40) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
INSERT INTO audit_log SELECT datetime(1700000000 + i * 97, 'unixepoch'), 'user' || (i % 60),
  $(text 80) FROM n;
COMMIT;
SQL

# 6,000 documents: 70% text (2-60 KB), 30% incompressible binary, in company folders.
python3 - "$dir/app" <<'PY'
import os, random, sqlite3, sys
app = sys.argv[1]
rng = random.Random(14)
passage = (b"Invoice overdue, please call back before Friday. The customer asked for a refund "
           b"of the second shipment. Der Kunde wuenscht eine Rueckmeldung bis Montag. ") * 8
db = sqlite3.connect(os.path.join(app, "crm.sqlite"))
rows = []
for i in range(6000):
    company = 1 + rng.randrange(5000)
    binary = rng.random() < 0.3
    size = rng.randrange(2000, 60000)
    rel = f"docs/company-{company:04d}/{'scan' if binary else 'letter'}-{i:05d}.{'bin' if binary else 'txt'}"
    path = os.path.join(app, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        if binary:
            f.write(rng.randbytes(size))
        else:
            out = bytearray()
            while len(out) < size:
                start = rng.randrange(len(passage) - 200)
                out += passage[start:start + rng.randrange(40, 200)] + b"\n"
            f.write(bytes(out[:size]))
    rows.append((rel[len("docs/"):], company, size, "binary" if binary else "text"))
db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?)", rows)
db.commit()
PY

# The live system a working day later.
mkdir -p "$dir/live"
cp "$dir/app/crm.sqlite" "$dir/live/crm.sqlite"
cp -a "$dir/app/docs" "$dir/live/docs"
sqlite3 "$dir/live/crm.sqlite" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
BEGIN;
UPDATE contacts SET bio = $(text 350) WHERE (company_id * 31 + seq) % 50 = 0;
UPDATE deals SET stage = 'won', amount = amount * 1.1 WHERE id % 67 = 0;
INSERT INTO activities SELECT deal_id, datetime(at, '+1 day'), kind, $(text 140)
  FROM activities WHERE rowid % 120 = 0;
DELETE FROM audit_log WHERE rowid % 250 = 0;
INSERT INTO audit_log SELECT datetime(1800000000 + rowid, 'unixepoch'), 'user7', $(text 80)
  FROM audit_log LIMIT 400;
INSERT INTO emails SELECT id + 100000, company_id, contact_seq, subject, $(text 600)
  FROM emails WHERE id % 40 = 0;
DELETE FROM deal_tags WHERE deal_id % 97 = 0;
COMMIT;
SQL
(cd "$dir/live/docs" && find . -name '*.txt' | sort | awk 'NR % 120 == 0' | while read -r f; do
  echo "edited on the live system" >> "$f"; done
 find . -name '*.bin' | sort | awk 'NR % 200 == 0' | xargs rm -f
 mkdir -p company-9999 && for i in $(seq 1 30); do head -c 5000 /dev/urandom > "company-9999/new-$i.bin"; done)
