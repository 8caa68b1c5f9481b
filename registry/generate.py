"""National-scale data for benchmarks (`registry generate`): a deep agency tree, its people, their
certificates with histories (renewals superseding older ones, revocations, expiries), requests in every
state of the certificate machine with their history, CA batches, users (a clerk and a head per agency,
an operator and an administrator at the root) and the audit entries that go with all of it, chained as
the audit module chains them (`registry audit verify` passes).

Written set-based: rows are built in Python and inserted many per statement (`db.bulk_insert`; COPY on
PostgreSQL, whose statements bind at most 32,767 values) in a few
big transactions, never through the ORM row by row; certificates are real X.509 (DER signed by a
generated CA), built in a process pool. Only into an empty database: generated rows next to real ones
would be indistinguishable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from registry import db
from registry.audit.service import canonical_json, entry_hash
from registry.audit.tables import AuditEntry, AuditHead
from registry.certs import service as certs
from registry.errors import Invalid
from registry.text import fold
from registry.timeutil import now

MAX_AGENCIES = 100_000
MAX_PEOPLE = 5_000_000
MAX_CERTIFICATES = 20_000_000
MAX_REQUESTS = 5_000_000
# Children per agency below the root: a tree of 10,000 agencies is six levels deep.
BRANCHING = 6
ROOT_CHILDREN = 20
CERTIFICATE_CHUNK = 20_000
ACTOR = "cli:generate"

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Phan", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thu", "Quang", "Ngọc", "Hữu", "Thanh", "Xuân", "Kim", "Hải"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hiếu", "Hoa", "Hùng", "Huyền", "Khánh", "Lan", "Linh",
         "Long", "Mai", "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Yến"]
POSITIONS = ["Chuyên viên", "Chuyên viên chính", "Trưởng phòng", "Phó trưởng phòng", "Văn thư", "Kế toán",
             "Giám đốc", "Phó giám đốc", "Cán bộ"]
UNIT_WORDS = ["Sở", "Phòng", "Ban", "Trung tâm", "Chi cục", "Đội", "Tổ"]
FIELDS = ["Tài chính", "Nội vụ", "Giáo dục và Đào tạo", "Y tế", "Xây dựng", "Giao thông vận tải", "Tư pháp",
          "Khoa học và Công nghệ", "Công Thương", "Văn hóa và Thể thao", "Tài nguyên và Môi trường", "Lao động",
          "Kế hoạch và Đầu tư", "Nông nghiệp", "Du lịch", "Hành chính", "Tổng hợp", "Thanh tra", "Dân tộc"]
REVOCATION_REASONS = ["key_compromise", "retired", "transferred", "lost_token", "other"]
# How the requests spread over the machine's states and kinds.
STATE_WEIGHTS = {"submitted": 20, "approved": 8, "rejected": 8, "withdrawn": 6, "batched": 6, "sent": 8,
                 "fulfilled": 14, "failed": 4, "delivered": 26}
# The transitions that lead from "submitted" to each state.
PATHS = {
    "submitted": [], "approved": ["approve"], "rejected": ["reject"], "withdrawn": ["withdraw"],
    "batched": ["approve", "batch"], "sent": ["approve", "batch", "send"],
    "fulfilled": ["approve", "batch", "send", "fulfil"], "failed": ["approve", "batch", "send", "fail"],
    "delivered": ["approve", "batch", "send", "fulfil", "deliver"],
}
TARGETS = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn", "batch": "batched",
           "send": "sent", "fulfil": "fulfilled", "fail": "failed", "deliver": "delivered"}
DECISIONS = {"approve", "reject"}
KIND_LABELS = {
    "new_personal": "Cấp mới chứng thư số cá nhân", "new_org": "Cấp mới chứng thư số tổ chức",
    "renew": "Gia hạn chứng thư số", "change": "Điều chỉnh thông tin chứng thư số",
    "unlock": "Mở khóa, cấp lại mật khẩu thiết bị", "revoke": "Thu hồi chứng thư số",
}
KIND_WEIGHTS = {"new_personal": 30, "new_org": 3, "renew": 35, "change": 10, "unlock": 10, "revoke": 12}
BATCH_SIZE = 50


@dataclass(frozen=True)
class Size:
    agencies: int = 10_000
    people: int = 200_000
    certificates: int = 1_000_000
    requests: int = 100_000

    def check(self) -> None:
        limits = {"agencies": (1, MAX_AGENCIES), "people": (0, MAX_PEOPLE), "certificates": (0, MAX_CERTIFICATES),
                  "requests": (0, MAX_REQUESTS)}
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise Invalid(f"{name} must be a whole number from {low:,} to {high:,}", fields={name: "out of range"})
        if self.certificates and not self.people:
            raise Invalid("certificates need people to hold them: give --people", fields={"people": "is 0"})
        if self.requests and not self.people:
            raise Invalid("requests need people to be about: give --people", fields={"people": "is 0"})

    def scaled(self, factor: float) -> Size:
        return Size(*(max(1, round(getattr(self, name) * factor)) for name in ("agencies", "people", "certificates",
                                                                               "requests")))


@dataclass
class Summary:
    agencies: int = 0
    people: int = 0
    users: int = 0
    certificates: int = 0
    requests: int = 0
    batches: int = 0
    events: int = 0
    audit_entries: int = 0
    usernames: dict[str, str] = field(default_factory=dict)  # role → an example user name


class _Chain:
    """Appends audit entries at the end of the chain as `audit.write_chained` does, many at a time, inside
    the current transaction; `close` moves the chain's head."""

    def __init__(self) -> None:
        self.seq = 0
        self.prev_hash = ""
        self.pending: list[dict[str, Any]] = []
        self.written = 0

    async def open(self) -> None:
        await AuditHead.raw("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING")
        head = await AuditHead.raw("SELECT seq, hash FROM audit_head WHERE id = 1")
        self.seq, self.prev_hash = int(head[0]["seq"]), head[0]["hash"]

    def add(self, at: datetime, action: str, object_type: str, object_id: Any, *, before: Any = None,
            after: Any = None, actor_id: int | None = None, actor: str = ACTOR) -> None:
        self.seq += 1
        entry = {"at": at, "actor_id": actor_id, "actor": actor, "action": action, "object_type": object_type,
                 "object_id": str(object_id), "before": canonical_json(before), "after": canonical_json(after)}
        digest = entry_hash(self.prev_hash, self.seq, entry)
        self.pending.append({"seq": self.seq, "prev_hash": self.prev_hash, "hash": digest, **entry})
        self.prev_hash = digest

    async def flush(self) -> None:
        if self.pending:
            await _insert(AuditEntry, self.pending)
            self.written += len(self.pending)
            self.pending = []

    async def close(self) -> None:
        await self.flush()
        await AuditHead.raw("UPDATE audit_head SET seq = {}, hash = {} WHERE id = 1", self.seq, self.prev_hash)


# --- certificates: real X.509, built in worker processes ------------------------------------------------

CA_NAME = "CA dữ liệu sinh tự động (registry generate)"


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(encoded),)) + encoded


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _der_length(len(content)) + content


def _der_time(moment: datetime) -> bytes:
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


_OID_COUNTRY = bytes.fromhex("0603550406")
_OID_ORGANISATION = bytes.fromhex("060355040a")
_OID_COMMON_NAME = bytes.fromhex("0603550403")
_OID_EMAIL = bytes.fromhex("06092a864886f70d010901")


def _der_name(common_name: str, email: str, organisation: str) -> bytes:
    def rdn(oid: bytes, tag: int, value: str) -> bytes:
        return _tlv(0x31, _tlv(0x30, oid + _tlv(tag, value.encode())))

    parts = rdn(_OID_COUNTRY, 0x13, "VN") + rdn(_OID_ORGANISATION, 0x0C, organisation[:64]) + rdn(
        _OID_COMMON_NAME, 0x0C, common_name[:64])
    if email:
        parts += rdn(_OID_EMAIL, 0x16, email)
    return _tlv(0x30, parts)


_TEMPLATE: dict[str, bytes] = {}


def _template() -> dict[str, bytes]:
    """The parts every generated certificate shares, taken from one certificate `cryptography` builds: the
    signature algorithm, the issuer, the holder's public key, the extensions."""
    if not _TEMPLATE:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        from cryptography.x509.oid import NameOID

        # The registry never holds private keys and a generated database is for measuring, not for
        # trust: a fresh CA key per run, one holder key for all. Ed25519 signs fastest.
        ca_key = ed25519.Ed25519PrivateKey.generate()
        holder_key = ed25519.Ed25519PrivateKey.generate().public_key()
        issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
        sample = (x509.CertificateBuilder().subject_name(issuer).issuer_name(issuer).public_key(holder_key)
                  .serial_number(1).not_valid_before(datetime(2020, 1, 1)).not_valid_after(datetime(2021, 1, 1))
                  .add_extension(usage, critical=True).sign(ca_key, None))
        extension = sample.extensions.get_extension_for_class(x509.KeyUsage)
        extension_der = _tlv(0x30, bytes.fromhex("0603551d0f") + _tlv(0x01, b"\xff") + _tlv(
            0x04, extension.value.public_bytes()))
        _TEMPLATE.update(
            algorithm=bytes.fromhex("300506032b6570"),  # Ed25519
            issuer=issuer.public_bytes(),
            spki=holder_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
            extensions=_tlv(0xA3, _tlv(0x30, extension_der)),
            version=bytes.fromhex("a003020102"),
        )
        _TEMPLATE["_key"] = ca_key  # type: ignore[assignment]
    return _TEMPLATE


def build_certificates(specs: Sequence[tuple[int, str, str, str, datetime, datetime]]) -> list[tuple[bytes, str, str]]:
    """(serial, common name, email, organisation, not before, not after) → (DER, subject, issuer) each: real
    X.509 v3 certificates, DER-encoded here and signed with Ed25519 by `cryptography` (its builder costs
    ten times more per certificate, too slow for a million). Each is read back by `cryptography` for its
    names, as the registry's own parser writes them."""
    template = _template()
    issuer = _rfc4514([("C", "VN"), ("CN", CA_NAME)])
    key: Any = template["_key"]
    results = []
    for serial, common_name, email, organisation, not_before, not_after in specs:
        tbs = _tlv(0x30, b"".join((
            template["version"],
            _tlv(0x02, serial.to_bytes(serial.bit_length() // 8 + 1, "big")),
            template["algorithm"],
            template["issuer"],
            _tlv(0x30, _der_time(not_before) + _der_time(not_after)),
            _der_name(common_name, email, organisation),
            template["spki"],
            template["extensions"],
        )))
        der = _tlv(0x30, tbs + template["algorithm"] + _tlv(0x03, b"\x00" + key.sign(tbs)))
        names = [("C", "VN"), ("O", organisation[:64]), ("CN", common_name[:64])] + ([("E", email)] if email else [])
        results.append((der, _rfc4514(names), issuer))
    return results


def _rfc4514_value(value: str) -> str:
    escaped = "".join("\\" + ch if ch in '\\"+,;<>' else "\\00" if ch == "\0" else ch for ch in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def _rfc4514(names: list[tuple[str, str]]) -> str:
    """A name as `cryptography`'s rfc4514_string with the registry's NAME_OVERRIDES writes it: last first."""
    return ",".join(f"{key}={_rfc4514_value(value)}" for key, value in reversed(names))


# --- the plan: every row, decided before anything is written --------------------------------------


def _agency_code(index: int) -> str:
    """A distinct QCVN 102 code per agency (index 0 is the province itself, 000.00.00.H49)."""
    v, rest = divmod(index, 99 * 100)
    z, y = divmod(rest, 99)
    return f"{v:03d}.{z:02d}.{y + 1 if index else 0:02d}.H49" if index else "000.00.00.H49"


def _parent_index(index: int) -> int | None:
    if index == 0:
        return None
    if index <= ROOT_CHILDREN:
        return 0
    return (index - ROOT_CHILDREN - 1) // BRANCHING + 1


def _person_name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _email_local(name: str, number: int) -> str:
    return "".join(fold(name).split()) + str(number)


async def generate(size: Size, *, seed: int = 1, password_hash: str = "",
                   progress: Callable[[str], None] | None = None) -> Summary:
    """Fill the (empty, migrated) database the current engine points at."""
    size.check()
    say = progress or (lambda _message: None)
    for table in ("agency", "person", "certificate", "cert_request", "user_account"):
        rows = await AuditEntry.raw(f"SELECT 1 AS present FROM {table} LIMIT 1")
        if rows:
            raise Invalid(f"the database already holds data ({table}); generate into an empty, migrated database",
                          code="database_not_empty")
    # All or nothing: one transaction around every phase (the phases' own transactions join it).
    async with db.transaction():
        if db.is_sqlite():
            # Inserts land all over the big indexes (fingerprints, hashes, names): with SQLite's default
            # 2 MB page cache the million-certificate build spends its time re-reading index pages.
            await AuditEntry.raw("PRAGMA cache_size = -1048576")
        rebuild = await _set_aside_text_indexes()
        summary = await _generate_all(size, seed, password_hash, say)
        if not db.is_sqlite():
            # Each COPY's trigger added its new keys after the last: put them in key order, as the migration
            # that made the table left them, before their trigram index is built again.
            await certs.sort_search_names()
        for statement in rebuild:
            await AuditEntry.raw(statement)
    await _analyze()
    return summary


async def _set_aside_text_indexes() -> list[str]:
    """Drop the trigram indexes of the certificates and of their search keys (PostgreSQL; the keys themselves
    are added by a trigger, once per COPY) or the triggers that keep the name ranks and their text table
    (SQLite) for the load, returning the statements that build them again: built once over the loaded rows
    they cost a fraction of their upkeep row by row (a fifth more time at 40,000 certificates; ranking a
    million certificates one by one, each between its neighbours, would take far longer than ranking them
    all at once). Within the generation's transaction: a failure leaves them as they were."""
    if db.is_sqlite():
        # The triggers that rank each new certificate in the name order and index its search key.
        triggers = await AuditEntry.raw(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('certificate', {}) "
            "AND name LIKE {}", certs.NAME_RANKS, f"{certs.NAME_RANKS}_%")
        if not triggers:  # no text table (no FTS5 trigram tokenizer in this SQLite)
            return []
        for row in triggers:
            await AuditEntry.raw(f'DROP TRIGGER "{row["name"]}"')
        # Ranked at once, spaced as the migration spaces them; the text index then reads every key again.
        # Merged into one segment after: every later write would go on merging the rebuild's segments.
        return [certs.FILL_NAME_RANKS, f"INSERT INTO {certs.TEXT_TABLE} ({certs.TEXT_TABLE}) VALUES ('rebuild')",
                certs.MERGE_TEXT_TABLE,
                *(row["sql"] for row in triggers)]
    rows = await AuditEntry.raw("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                "AND tablename IN ('certificate', {}) AND indexdef LIKE '%gin_trgm_ops%'", certs.SEARCH_NAMES)
    for row in rows:
        await AuditEntry.raw(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


async def _generate_all(size: Size, seed: int, password_hash: str, say: Callable[[str], None]) -> Summary:
    rng = random.Random(seed)
    moment = now()
    summary = Summary()
    chain = _Chain()

    # Agencies, their names, and a person... the tree first.
    agencies: list[dict[str, Any]] = []
    async with db.transaction():
        await chain.open()
        for index in range(size.agencies):
            parent = _parent_index(index)
            agency_id = index + 1
            parent_row = agencies[parent] if parent is not None else None
            depth = parent_row["depth"] + 1 if parent_row else 0
            if index == 0:
                name, short = "Ủy ban nhân dân tỉnh Quảng Ninh", "UBND tỉnh"
            else:
                word = UNIT_WORDS[min(depth - 1, len(UNIT_WORDS) - 1)]
                name = f"{word} {rng.choice(FIELDS)} số {index}"
                short = f"{word} {index}"
            code = _agency_code(index)
            agencies.append({
                "id": agency_id, "code": code, "name": name, "short_name": short,
                "parent": parent_row["id"] if parent_row else None,
                "path": f"{parent_row['path'] if parent_row else '/'}{agency_id}/", "depth": depth,
                "address": f"Số {index + 1}, đường Trần Hưng Đạo, TP Hạ Long, Quảng Ninh", "tax_code": "",
                "budget_code": f"{1000000 + index:07d}", "email": f"vanthu.{index + 1}@quangninh.gov.vn",
                "search_key": " ".join(p for p in (fold(name), fold(short), code.lower()) if p),
                "created_at": moment, "updated_at": moment,
            })
            chain.add(moment, "agency.create", "agency", code,
                      after={"code": code, "name": name, "short_name": short,
                             "parent_code": parent_row["code"] if parent_row else None})
        await _insert(_table("agency"), agencies)
        await _insert(_table("agency_name"), [
            {"agency": row["id"], "name": row["name"], "short_name": row["short_name"], "valid_from": moment,
             "valid_to": None} for row in agencies])
        await chain.close()
    summary.agencies = len(agencies)
    say(f"{len(agencies):,} agencies, {max(row['depth'] for row in agencies) + 1} levels")

    # People, spread over the agencies (every agency gets some before any gets more).
    people: list[dict[str, Any]] = []
    async with db.transaction():
        await chain.open()
        for index in range(size.people):
            agency = agencies[index % len(agencies)] if index < 2 * len(agencies) else rng.choice(agencies)
            name = _person_name(rng)
            person_id = index + 1
            born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
            row = {
                "id": person_id, "full_name": name, "search_key": fold(name), "position": rng.choice(POSITIONS),
                "agency": agency["id"], "email": f"{_email_local(name, person_id)}@quangninh.gov.vn",
                "id_number": f"022{person_id:09d}", "date_of_birth": born, "phone": f"09{person_id % 10**8:08d}",
                "left_at": None, "departure_reason": "", "created_at": moment, "updated_at": moment,
            }
            people.append(row)
            chain.add(moment, "person.create", "person", person_id,
                      after={"full_name": name, "agency_code": agency["code"], "email": row["email"]})
            if len(people) % 50_000 == 0:
                await _insert(_table("person"), people[-50_000:])
                await chain.flush()
        await _insert(_table("person"), people[len(people) - len(people) % 50_000:])
        await chain.close()
    summary.people = len(people)
    say(f"{len(people):,} people")

    # Users: the first person of an agency is its clerk, the second its head; at the root also an
    # operator and an administrator.
    by_agency: dict[int, list[dict[str, Any]]] = {}
    for person in people:
        by_agency.setdefault(person["agency"], []).append(person)
    users: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    clerk_of: dict[int, int] = {}
    head_of: dict[int, int] = {}
    province_wide: dict[str, int] = {}
    async with db.transaction():
        await chain.open()
        for agency in agencies:
            staff = by_agency.get(agency["id"], [])
            wanted = ["clerk", "head"] + (["operator", "admin"] if agency["depth"] == 0 else [])
            for role, person in zip(wanted, staff, strict=False):
                user_id = len(users) + 1
                username = f"{role}.{agency['id']}"
                users.append({"id": user_id, "username": username, "person": person["id"],
                              "password_hash": password_hash, "active": True, "created_at": moment,
                              "last_login_at": None})
                roles.append({"user": user_id, "role": role, "agency": agency["id"], "granted_at": moment,
                              "revoked_at": None})
                if role == "clerk":
                    clerk_of[agency["id"]] = user_id
                elif role == "head":
                    head_of[agency["id"]] = user_id
                else:
                    province_wide[role] = user_id
                summary.usernames.setdefault(role, username)
                chain.add(moment, "user.create", "user", username,
                          after={"username": username, "person_id": person["id"], "roles": [role],
                                 "agency_code": agency["code"]})
        await _insert(_table("user_account"), users)
        await _insert(_table("role_assignment"), roles)
        await chain.close()
    summary.users = len(users)
    say(f"{len(users):,} users")

    # Certificates: each agency's organisation certificate (kept by its clerk), then personal ones; a
    # person's certificates form a renewal chain, each superseded by the next; the last one is active,
    # expiring, expired or revoked.
    certificates = await _write_certificates(size, rng, agencies, people, by_agency, chain, moment, say)
    summary.certificates = size.certificates

    requests, batches, events = await _write_requests(size, rng, agencies, people, certificates, clerk_of, head_of,
                                                      province_wide.get("operator"), chain, moment)
    summary.requests, summary.batches, summary.events = requests, batches, events
    say(f"{requests:,} requests in {len(STATE_WEIGHTS)} states, {batches:,} batches, {events:,} history events")

    await _advance_sequences()
    summary.audit_entries = chain.seq
    return summary


async def _analyze() -> None:
    """The planner's statistics for the tables just filled (outside the transaction: PostgreSQL's ANALYZE
    may run inside one, but SQLite's statistics are best taken of the committed tables). PostgreSQL also
    vacuums: linking each renewal to its successor rewrote most certificate rows, and until autovacuum
    comes by, every read of them visits the dead versions too (a million of them) and no index-only scan
    helps."""
    await AuditEntry.raw("ANALYZE" if db.is_sqlite() else "VACUUM (ANALYZE)")


async def _insert(table: Any, rows: list[dict[str, Any]]) -> None:
    """Many rows into `table` inside the current transaction: multi-row INSERTs on SQLite, COPY on PostgreSQL."""
    if not rows:
        return
    if db.is_sqlite():
        await db.bulk_insert(table, rows)
        return
    connection = db.current_engine().current_transaction.get().connection
    columns = list(rows[0])
    await connection.copy_records_to_table(table._meta.tablename, columns=columns,
                                           records=[tuple(row[column] for column in columns) for row in rows])


def _table(name: str) -> Any:
    from registry.db import table_classes

    for table in table_classes():
        if table._meta.tablename == name:
            return table
    raise LookupError(name)


@dataclass
class _Cert:
    id: int
    person: int | None
    agency: int
    status: str  # active, expiring, expired, revoked, superseded
    not_after: datetime
    fingerprint: str = ""


async def _write_certificates(size: Size, rng: random.Random, agencies: list[dict[str, Any]],
                              people: list[dict[str, Any]], by_agency: dict[int, list[dict[str, Any]]],
                              chain: _Chain, moment: datetime, say: Callable[[str], None]) -> list[_Cert]:
    """Returns the latest certificate of each holder (what requests act on)."""
    # Certificates carry whole seconds.
    moment = moment.replace(microsecond=0)
    org_count = min(size.certificates, len(agencies))
    personal = size.certificates - org_count
    # Each person's share of the personal certificates: as even as the numbers allow.
    per_person, extra = divmod(personal, len(people)) if people else (0, 0)
    specs: list[dict[str, Any]] = []
    latest: list[_Cert] = []

    def plan_chain(count: int, *, person: dict[str, Any] | None, agency: dict[str, Any]) -> None:
        if count <= 0:
            return
        # The newest certificate started up to three years ago and runs two or three years.
        start = moment - timedelta(days=rng.randrange(3 * 365))
        starts = [start - timedelta(days=3 * 365 * back) for back in range(count - 1, -1, -1)]
        fate = rng.random()
        for position, begin in enumerate(starts):
            last = position == count - 1
            end = begin + timedelta(days=rng.choice((730, 1095)))
            spec = {"person": person, "agency": agency, "not_before": begin, "not_after": end,
                    "superseded": not last, "revoked": last and fate < 0.05}
            specs.append(spec)
            if last:
                status = "revoked" if spec["revoked"] else "expired" if end < moment else (
                    "expiring" if end < moment + timedelta(days=90) else "active")
                latest.append(_Cert(id=0, person=person["id"] if person else None, agency=agency["id"],
                                    status=status, not_after=end))
                spec["latest"] = latest[-1]

    for agency in agencies[:org_count]:
        plan_chain(1, person=None, agency=agency)
    for index, person in enumerate(people):
        agency = agencies[person["agency"] - 1]
        plan_chain(per_person + (1 if index < extra else 0), person=person, agency=agency)

    workers = max(1, min(4, os.cpu_count() or 1))
    loop = asyncio.get_running_loop()
    next_id = 1
    written = 0
    pending_links: list[tuple[int, int]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        async with db.transaction():
            await chain.open()
            for start in range(0, len(specs), CERTIFICATE_CHUNK):
                chunk = specs[start:start + CERTIFICATE_CHUNK]
                inputs = []
                for offset, spec in enumerate(chunk):
                    serial = 10**15 + start + offset
                    spec["serial"] = serial
                    if spec["person"] is not None:
                        name, email = spec["person"]["full_name"], spec["person"]["email"]
                    else:
                        name, email = spec["agency"]["name"], spec["agency"]["email"]
                    inputs.append((serial, name, email, spec["agency"]["name"], spec["not_before"].astimezone(UTC),
                                   spec["not_after"].astimezone(UTC)))
                parts = [inputs[i::workers] for i in range(workers)]
                built_parts = await asyncio.gather(*(loop.run_in_executor(pool, build_certificates, part)
                                                     for part in parts if part))
                built: list[Any] = [None] * len(inputs)
                for worker, part in enumerate(built_parts):
                    built[worker::workers] = part
                rows = []
                for offset, (spec, (der, subject, issuer)) in enumerate(zip(chunk, built, strict=True)):
                    certificate_id = next_id + offset
                    fingerprint = hashlib.sha256(der).hexdigest()
                    person, agency = spec["person"], spec["agency"]
                    name, email = inputs[offset][1], inputs[offset][2]
                    is_org = person is None
                    superseded_at = spec["not_before"] + timedelta(days=3 * 365) if spec["superseded"] else None
                    revoked_at = spec["not_before"] + (moment - spec["not_before"]) / 2 if spec["revoked"] else None
                    rows.append({
                        "id": certificate_id, "fingerprint": fingerprint, "serial": f"{spec['serial']:x}",
                        "subject": subject, "issuer": issuer, "common_name": name[:64], "email": email,
                        "search_key": " ".join(p for p in (fold(name[:64]), email.lower()) if p)[:700],
                        "not_before": spec["not_before"], "not_after": spec["not_after"], "key_type": "Ed25519",
                        "key_size": 256, "key_usage": "digital_signature,content_commitment", "is_ca": False,
                        "kind": "org" if is_org else "personal", "der": der,
                        "holder": None if is_org else person["id"], "agency": agency["id"],
                        "custodian": (by_agency.get(agency["id"]) or [{"id": None}])[0]["id"] if is_org else None,
                        "revoked_at": revoked_at, "revocation_reason": rng.choice(REVOCATION_REASONS) if revoked_at
                        else "", "revocation_pending_since": None,
                        # The renewal is the next row of the same chain.
                        "superseded_by": certificate_id + 1 if spec["superseded"] else None,
                        "superseded_at": superseded_at, "source": "ca_result", "imported_at": spec["not_before"],
                        "imported_by": None,
                    })
                    chain.add(spec["not_before"], "certificate.import", "certificate", fingerprint, after={
                        "serial": rows[-1]["serial"], "subject": subject, "issuer": issuer,
                        "not_before": spec["not_before"], "not_after": spec["not_after"], "source": "ca_result",
                        "kind": rows[-1]["kind"], "holder_person_id": rows[-1]["holder"],
                        "agency_code": agency["code"], "custodian_person_id": rows[-1]["custodian"]})
                    if superseded_at is not None:
                        chain.add(superseded_at, "certificate.supersede", "certificate", fingerprint,
                                  before={"superseded_by": None},
                                  after={"superseded_by": certificate_id + 1, "superseded_at": superseded_at})
                    if revoked_at is not None:
                        chain.add(revoked_at, "certificate.revoke", "certificate", fingerprint,
                                  before={"revoked_at": None, "revocation_reason": None},
                                  after={"revoked_at": revoked_at, "revocation_reason": rows[-1]["revocation_reason"]})
                    if "latest" in spec:
                        spec["latest"].id, spec["latest"].fingerprint = certificate_id, fingerprint
                # Rows that name a later row (superseded_by) go in once that row is in: on both engines the
                # foreign key is checked per statement. Insert without the link, then set it once its target
                # is in (a chain's renewal may fall in the next chunk).
                pending_links += [(row["id"], row["superseded_by"]) for row in rows if row["superseded_by"]]
                for row in rows:
                    row["superseded_by"] = None
                await _insert(_table("certificate"), rows)
                last_id = next_id + len(chunk) - 1
                await _set_superseded_by([link for link in pending_links if link[1] <= last_id])
                pending_links = [link for link in pending_links if link[1] > last_id]
                await chain.flush()
                next_id += len(chunk)
                written += len(chunk)
                say(f"{written:,} of {len(specs):,} certificates")
            await chain.close()
    return latest


async def _set_superseded_by(links: list[tuple[int, int]]) -> None:
    """Set `superseded_by` of many certificates in a few statements (old id → new id)."""
    connection = db.current_engine().current_transaction.get().connection
    sqlite = db.is_sqlite()
    for start in range(0, len(links), 10_000):
        part = links[start:start + 10_000]
        if sqlite:
            await connection.executemany("UPDATE certificate SET superseded_by = ? WHERE id = ?",
                                         [(new, old) for old, new in part])
        else:
            await connection.execute(
                "UPDATE certificate SET superseded_by = link.new FROM unnest($1::int[], $2::int[]) AS link(old, new) "
                "WHERE certificate.id = link.old", [old for old, _ in part], [new for _, new in part])


def _weighted(rng: random.Random, weights: dict[str, int], count: int) -> Iterator[str]:
    names, values = list(weights), list(weights.values())
    for _ in range(count):
        yield rng.choices(names, values)[0]


async def _write_requests(size: Size, rng: random.Random, agencies: list[dict[str, Any]],
                          people: list[dict[str, Any]], certificates: list[_Cert], clerk_of: dict[int, int],
                          head_of: dict[int, int], operator: int | None, chain: _Chain, moment: datetime) -> tuple[int, int, int]:
    """Requests in every state, each with the history that led there; one open request per certificate."""
    if not size.requests:
        return 0, 0, 0
    usable = [c for c in certificates if c.status in ("active", "expiring")]
    rng.shuffle(usable)
    unused = iter(usable)
    requests: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    batches: list[dict[str, Any]] = []
    # Open batches by state: requests join one until it holds BATCH_SIZE.
    filling: dict[str, dict[str, Any]] = {}
    root = agencies[0]
    event_count = 0
    async with db.transaction():
        await chain.open()
        kinds = _weighted(rng, KIND_WEIGHTS, size.requests)
        states = _weighted(rng, STATE_WEIGHTS, size.requests)
        for index, (kind, state) in enumerate(zip(kinds, states, strict=True)):
            request_id = index + 1
            certificate: _Cert | None = None
            if kind in ("renew", "change", "unlock", "revoke"):
                certificate = next(unused, None)
                if certificate is None:
                    kind = "new_personal"
            if certificate is not None:
                agency = agencies[certificate.agency - 1]
                subject = certificate.person
            else:
                person = rng.choice(people)
                agency = agencies[person["agency"] - 1]
                subject = person["id"] if kind == "new_personal" else None
            subject_name = people[subject - 1]["full_name"] if subject else agency["name"]
            created = moment - timedelta(minutes=rng.randrange(60 * 24 * 365))
            reason = rng.choice(REVOCATION_REASONS) if kind == "revoke" else ""
            urgent = reason in ("key_compromise", "lost_token")
            requester = clerk_of.get(agency["id"])
            decider = head_of.get(agency["id"]) or head_of.get(root["id"])
            path = PATHS[state]
            details: dict[str, Any]
            if kind == "new_personal":
                person_row = people[subject - 1]  # type: ignore[index]
                details = {"full_name": person_row["full_name"], "email": person_row["email"],
                           "position": person_row["position"], "validity_years": 3}
            elif kind == "new_org":
                details = {"org_name": agency["name"], "address": agency["address"], "email": agency["email"],
                           "budget_code": agency["budget_code"], "validity_years": 3}
            elif kind == "renew":
                details = {"validity_years": 3, "detail": ""}
            else:
                details = {"detail": "Sinh tự động"}
            summary = f"{KIND_LABELS[kind]} — {subject_name}"
            row = {
                "id": request_id, "kind": kind, "state": state, "version": 1 + len(path), "agency": agency["id"],
                "requester": requester, "subject": subject, "urgent": urgent, "summary": summary[:300],
                "search_key": fold(subject_name)[:400], "details": json.dumps(details, ensure_ascii=False),
                "decided_by": None, "decided_at": None, "decision_note": "", "created_at": created,
                "updated_at": created, "certificate": certificate.id if certificate else None,
                "issued_certificate": None, "reason": reason, "batch_id": None, "handed_to_holder_at": None,
                "token_return_due": None, "token_returned_at": None,
            }
            events.append({"flow": "cert", "record_id": request_id, "at": created, "actor_id": requester,
                           "actor": f"clerk.{agency['id']}", "transition": "submit", "from_state": "",
                           "to_state": "submitted", "note": ""})
            chain.add(created, "cert_request.submit", "cert_request", request_id, actor_id=requester,
                      actor=f"clerk.{agency['id']}", after={"kind": kind, "agency_code": agency["code"],
                                                            "summary": summary, "urgent": urgent})
            at, current = created, "submitted"
            for step in path:
                at = at + timedelta(hours=rng.randrange(1, 48))
                actor_id = decider if step in DECISIONS else requester if step == "withdraw" else operator
                note = "Không đủ hồ sơ" if step in ("reject", "fail") else ""
                if step in DECISIONS:
                    row.update(decided_by=decider, decided_at=at, decision_note=note)
                if step == "batch":
                    row["batch_id"] = _batch_for(filling, batches, state, at, root, operator)
                events.append({"flow": "cert", "record_id": request_id, "at": at, "actor_id": actor_id,
                               "actor": ACTOR, "transition": step, "from_state": current, "to_state": TARGETS[step],
                               "note": note})
                chain.add(at, f"cert_request.{step}", "cert_request", request_id, actor_id=actor_id,
                          before={"state": current}, after={"state": TARGETS[step], "note": note or None})
                current = TARGETS[step]
            row["updated_at"] = at
            if state in ("fulfilled", "delivered") and kind == "revoke":
                row["token_return_due"] = (at + timedelta(days=7)).date()
            if state == "delivered":
                row["handed_to_holder_at"] = at
            requests.append(row)
            if len(requests) >= 20_000:
                event_count += await _flush_requests(requests, events, chain)
        event_count += await _flush_requests(requests, events, chain)
        # Batch ids are plain integers on the requests (no foreign key): the batches go in last.
        for batch in batches:
            del batch["_members"]
        await _insert(_table("ca_batch"), batches)
        await chain.close()
    return size.requests, len(batches), event_count


async def _flush_requests(requests: list[dict[str, Any]], events: list[dict[str, Any]], chain: _Chain) -> int:
    await _insert(_table("cert_request"), requests)
    await _insert(_table("workflow_event"), events)
    await chain.flush()
    count = len(events)
    requests.clear()
    events.clear()
    return count


def _batch_for(filling: dict[str, dict[str, Any]], batches: list[dict[str, Any]], state: str, at: datetime,
               root: dict[str, Any], operator: int | None) -> int:
    batch_state = "draft" if state == "batched" else "sent" if state in ("sent",) else "closed"
    batch = filling.get(batch_state)
    if batch is None or batch["_members"] >= BATCH_SIZE:
        batch = {"id": len(batches) + 1, "kind": "ca", "state": batch_state,
                 "version": {"draft": 1, "sent": 2, "closed": 3}[batch_state], "agency": root["id"],
                 "requester": operator, "subject": None, "urgent": False,
                 "summary": "Danh sách gửi CA", "search_key": "", "details": "{}", "decided_by": None,
                 "decided_at": None, "decision_note": "", "created_at": at, "updated_at": at,
                 "dispatch_no": "" if batch_state == "draft" else f"{len(batches) + 1}/STTTT-CĐS",
                 "dispatched_on": None if batch_state == "draft" else at.date(), "_members": 0}
        batches.append(batch)
        filling[batch_state] = batch
    batch["_members"] += 1
    return batch["id"]


async def _advance_sequences() -> None:
    """PostgreSQL: ids were given explicitly; each serial's sequence moves past them."""
    if db.is_sqlite():
        return
    for table in ("agency", "agency_name", "person", "user_account", "role_assignment", "certificate",
                  "cert_request", "ca_batch", "workflow_event", "audit_entry"):
        await AuditEntry.raw(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))")
