"""Pure domain rules for customer master data: normalization and validation. No I/O here, so
every rule is unit-tested directly. Errors name the field in the API's own terms."""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date

import phonenumbers
from google.protobuf.struct_pb2 import Struct

from crm.contacts.v1.contacts_pb2 import Account, Address, Contact, CustomFieldDefinition, Email, Interaction, Phone
from crm_contacts.rules import identities as social
from crm_contacts.rules.consent import merge_consents
from crmkit import limits, picklists
from crmkit.errors import InvalidArgument
from crmkit.fields import immutable, patchable

Record = Contact | Account

# The built-in keys of the shared picklists (proto/crm/common/v1/picklists.proto), the same as
# leads'; what a write may hold now is the current vocabulary (crmkit.picklists.Vocabulary).
SOURCES = picklists.SOURCES
LEVELS = picklists.LEVELS
LIFECYCLE = picklists.LIFECYCLE
# record field → picklist
CONTACT_PICKLISTS = {"source": "source", "level": "level", "lifecycle_stage": "lifecycle_stage", "industry": "industry"}
ACCOUNT_PICKLISTS = {"source": "source", "level": "level", "industry": "industry"}
PHONE_KINDS = ("mobile", "work", "home", "fax", "other")
EMAIL_KINDS = ("work", "personal", "other")
ADDRESS_KINDS = ("office", "billing", "shipping", "home", "other")
INTERACTION_KINDS = ("call", "email", "meeting", "note")
FIELD_TYPES = ("text", "number", "boolean", "date", "choice")
DEFAULT_REGION = "CN"  # numbers without a country code are read as mainland China numbers
MAX_TAGS = limits.MAX_TAGS
MAX_CONTENT = 20000  # characters of an interaction's content
MAX_PLACE = 100  # characters of an industry, province or city: filter columns of that width

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# BCP 47 as people write it: a language, then script / region / variant subtags (zh-Hans-CN, en).
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})((?:-[A-Za-z0-9]{2,8})*)$")


def normalize_phone(raw: str, field: str, default_region: str = DEFAULT_REGION) -> str:
    """E.164, e.g. '+86 138-0013-8000', '13800138000' and '0086 138 0013 8000' → +8613800138000."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidArgument(f"'{raw}' is not a phone number", field=field) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidArgument(f"'{raw}' is not a valid phone number", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def unverified_digits(raw: str, field: str) -> str:
    """The digits of a phone that did not validate, kept as typed (a leading + stays)."""
    digits = re.sub(r"\D", "", raw)
    if not digits:
        raise InvalidArgument(f"'{raw}' has no digits to keep as a phone number", field=field)
    return ("+" if raw.strip().startswith("+") else "") + digits


def normalize_email(raw: str, field: str) -> str:
    address = raw.strip().lower()
    if len(address) > 320 or not _EMAIL.match(address):
        raise InvalidArgument(f"'{raw}' is not an email address", field=field)
    return address


def normalize_tags(values: Iterable[str], field: str = "tags") -> list[str]:
    """Trimmed, de-duplicated, order kept; case kept (Chinese tags have no case)."""
    seen: dict[str, None] = {}
    for i, value in enumerate(values):
        tag = value.strip()
        if not tag or len(tag) > 100:
            raise InvalidArgument("a tag must be 1 to 100 characters", field=f"{field}[{i}]")
        seen.setdefault(tag, None)
    if len(seen) > MAX_TAGS:
        raise InvalidArgument(f"at most {MAX_TAGS} tags", field=field)
    return list(seen)


def _one_of(value: str, allowed: tuple[str, ...], field: str, *, blank_ok: bool = True) -> None:
    if (blank_ok and not value) or value in allowed:
        return
    raise InvalidArgument(f"must be one of {', '.join(allowed)}", field=field)


def _normalize_phones(phones: Iterable[Phone]) -> list[Phone]:
    result: list[Phone] = []
    seen: set[str] = set()  # a set, not a scan of `result`: that made 3,000 phones cost 2.9 s
    for i, phone in enumerate(phones):
        raw = phone.raw or phone.number
        if not raw:
            raise InvalidArgument("phone number is required", field=f"phones[{i}].number")
        _one_of(phone.kind, PHONE_KINDS, f"phones[{i}].kind")
        if phone.unverified:  # kept as typed (an import): its digits identify and find it
            number = unverified_digits(raw, f"phones[{i}].number")
        else:
            number = normalize_phone(raw, f"phones[{i}].number")
        if number not in seen:
            seen.add(number)
            result.append(Phone(number=number, kind=phone.kind or "mobile", raw=raw, unverified=phone.unverified))
    return result


def _normalize_emails(emails: Iterable[Email]) -> list[Email]:
    result: list[Email] = []
    seen: set[str] = set()
    for i, email in enumerate(emails):
        _one_of(email.kind, EMAIL_KINDS, f"emails[{i}].kind")
        address = normalize_email(email.address, f"emails[{i}].address")
        if address not in seen:
            seen.add(address)
            result.append(Email(address=address, kind=email.kind or "work"))
    return result


def _check_addresses(addresses: Iterable[Address]) -> None:
    for i, address in enumerate(addresses):
        if address.kind and address.kind not in ADDRESS_KINDS:  # the field spelled only when refused
            _one_of(address.kind, ADDRESS_KINDS, f"addresses[{i}].kind")
        if address.country and not _COUNTRY.match(address.country):
            raise InvalidArgument("use an ISO 3166-1 alpha-2 code, e.g. CN", field=f"addresses[{i}].country")
        if (address.city or address.province) and not address.country:
            raise InvalidArgument("country is required with a province or city", field=f"addresses[{i}].country")
        if len(address.province) > MAX_PLACE or len(address.city) > MAX_PLACE:  # each row checks twice
            name = "province" if len(address.province) > MAX_PLACE else "city"
            raise InvalidArgument(f"at most {MAX_PLACE} characters", field=f"addresses[{i}].{name}")


def _check_industry(industry: str) -> None:
    if len(industry) > MAX_PLACE:
        raise InvalidArgument(f"industry is at most {MAX_PLACE} characters", field="industry")


def normalize_language(raw: str, field: str = "language") -> str:
    """'ZH-cn' → 'zh-CN', 'EN' → 'en', 'zh-hans' → 'zh-Hans' ('' stays '')."""
    text = raw.strip()
    if not text:
        return ""
    match = _LANGUAGE.match(text.replace("_", "-"))
    if match is None or len(text) > 35:
        raise InvalidArgument("use a BCP 47 language tag, e.g. zh-CN or en", field=field)
    parts = [match.group(1).lower()]
    for sub in match.group(2).split("-")[1:]:
        parts.append(sub.upper() if len(sub) == 2 else sub.title() if len(sub) == 4 else sub.lower())
    return "-".join(parts)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument("name is required", field="name")
    if len(name) > 300:
        raise InvalidArgument("name is at most 300 characters", field="name")
    return name


# Per record type, the limited maps and short texts it has: looked up once, not on every check
# (an import checks every row).
_LIMITED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _limited_fields(record: Record) -> tuple[tuple[str, ...], tuple[str, ...]]:
    descriptor = record.DESCRIPTOR
    found = _LIMITED.get(descriptor.full_name)
    if found is None:
        names = descriptor.fields_by_name
        found = _LIMITED[descriptor.full_name] = (
            tuple(n for n in ("social", "preferences") if n in names),
            tuple(n for n in ("title", "company_name", "website", "owner_id", "team", "region") if n in names))
    return found


def check_limits(record: Record, paths: Collection[str] | None = None) -> None:
    """The documented maxima (crmkit.limits), checked before any normalization so that an
    oversized record costs nothing. `paths`: only those fields (an update checks what it changes,
    so a survivor that a merge gave 30 phones can still get a new title)."""
    def wanted(name: str) -> bool:
        return paths is None or name in paths

    # limits.check_* is called (and a field's name spelled) only for a value over its limit: an
    # import checks every row, and most fields are empty or short
    phones, emails, addresses, tags = record.phones, record.emails, record.addresses, record.tags
    for name, items, maximum in (("phones", phones, limits.MAX_PHONES), ("emails", emails, limits.MAX_EMAILS),
                                 ("addresses", addresses, limits.MAX_ADDRESSES), ("tags", tags, limits.MAX_TAGS)):
        if len(items) > maximum and wanted(name):
            limits.check_count(name, items, maximum)
    if record.HasField("custom_fields") and wanted("custom_fields"):
        custom = record.custom_fields.fields
        limits.check_count("custom_fields", custom, limits.MAX_CUSTOM_FIELDS)
        for key, value in custom.items():
            # a longer key is not one anybody defined; the field named stays short enough for a trailer
            short = f"custom_fields.{key[:limits.MAX_CUSTOM_FIELD_KEY]}"
            limits.check_length(short, key, limits.MAX_CUSTOM_FIELD_KEY)
            if value.WhichOneof("kind") == "string_value":
                limits.check_length(short, value.string_value, limits.MAX_CUSTOM_FIELD_VALUE)
    mappings, texts = _limited_fields(record)
    for mapping in mappings:
        entries = getattr(record, mapping)
        if entries and wanted(mapping):
            limits.check_count(mapping, entries, limits.MAX_CUSTOM_FIELDS)
            for key, value in entries.items():
                short = f"{mapping}.{key[:limits.MAX_CUSTOM_FIELD_KEY]}"
                limits.check_length(short, key, limits.MAX_CUSTOM_FIELD_KEY)
                limits.check_length(short, value, limits.MAX_SHORT_TEXT)
    for name in texts:
        text = getattr(record, name)
        if len(text) > limits.MAX_SHORT_TEXT and wanted(name):
            limits.check_length(name, text, limits.MAX_SHORT_TEXT)
    if phones and wanted("phones"):
        for i, phone in enumerate(phones):
            number = phone.raw or phone.number
            if len(number) > limits.MAX_PHONE:
                limits.check_length(f"phones[{i}].number", number, limits.MAX_PHONE)
    if emails and wanted("emails"):
        for i, email in enumerate(emails):
            if len(email.address) > limits.MAX_EMAIL:
                limits.check_length(f"emails[{i}].address", email.address, limits.MAX_EMAIL)
    if addresses and wanted("addresses"):
        for i, address in enumerate(addresses):
            # no text of an address is longer than the address's encoding (characters <= bytes)
            if address.ByteSize() <= limits.MAX_SHORT_TEXT:
                continue
            for fd, value in address.ListFields():
                if isinstance(value, str) and len(value) > limits.MAX_SHORT_TEXT:
                    limits.check_length(f"addresses[{i}].{fd.name}", value, limits.MAX_SHORT_TEXT)


def normalize_contact(contact: Contact, vocabulary: picklists.Vocabulary = picklists.DEFAULTS,
                      before: Contact | None = None) -> None:
    """Validate and normalize in place (phones → E.164, emails lower-cased, tags de-duplicated).
    Picklist fields hold active keys of `vocabulary`, or what `before` (the stored record) held."""
    contact.name = _check_name(contact.name)
    _check_industry(contact.industry)
    vocabulary.check_fields(contact, CONTACT_PICKLISTS, before)
    contact.language = normalize_language(contact.language)
    phones, emails = _normalize_phones(contact.phones), _normalize_emails(contact.emails)
    del contact.phones[:]
    contact.phones.extend(phones)
    del contact.emails[:]
    contact.emails.extend(emails)
    _check_addresses(contact.addresses)
    tags = normalize_tags(contact.tags)
    del contact.tags[:]
    contact.tags.extend(tags)
    social.normalize(contact)


def normalize_account(account: Account, vocabulary: picklists.Vocabulary = picklists.DEFAULTS,
                      before: Account | None = None) -> None:
    account.name = _check_name(account.name)
    _check_industry(account.industry)
    vocabulary.check_fields(account, ACCOUNT_PICKLISTS, before)
    phones, emails = _normalize_phones(account.phones), _normalize_emails(account.emails)
    del account.phones[:]
    account.phones.extend(phones)
    del account.emails[:]
    account.emails.extend(emails)
    _check_addresses(account.addresses)
    tags = normalize_tags(account.tags)
    del account.tags[:]
    account.tags.extend(tags)


def settle_service_values(record: Record, vocabulary: picklists.Vocabulary) -> list[str]:
    """A record another service creates on its own behalf (a web form's consent contact, a ticket's
    new sender): no user is there to correct a 400, so a picklist value is never refused. Each
    field holds the value while the list takes it, else the active key it names (a key, or a
    label in either language); else the lifecycle stage becomes the first active stage in the
    administrator's order (a contact has a stage from its first day), any other field blank, and
    the value as sent is kept as the tag "<field>:<value>", as an import keeps an unknown value.
    In place; the "<field>:<value>" kept, for the audit entry (a tag only while there is room)."""
    kept: list[str] = []
    fields = CONTACT_PICKLISTS if isinstance(record, Contact) else ACCOUNT_PICKLISTS
    for field, name in fields.items():
        value = getattr(record, field).strip()
        try:
            vocabulary.check(name, value, field)
            continue
        except InvalidArgument:
            pass
        key = vocabulary.match(name, value)
        if not key:
            key = vocabulary.fill(name, first=True) if field == "lifecycle_stage" else ""
            note = f"{field}:{' '.join(value.split())}"[:100]  # a tag's length (normalize_tags)
            kept.append(note)
            if len(record.tags) < MAX_TAGS:
                record.tags.append(note)
        setattr(record, field, key)
    return kept


def normalize(record: Record, vocabulary: picklists.Vocabulary = picklists.DEFAULTS,
              before: Record | None = None) -> None:
    if isinstance(record, Contact):
        normalize_contact(record, vocabulary, before if isinstance(before, Contact) else None)
    else:
        normalize_account(record, vocabulary, before if isinstance(before, Account) else None)


def update_paths(record: Record, mask: Sequence[str]) -> list[str]:
    """The top-level fields an update mask names, each one the contract lets an update change
    (crmkit.fields.patchable: neither OUTPUT_ONLY nor IMMUTABLE in contacts.proto)."""
    paths = [p.split(".")[0] for p in mask]
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    fields, allowed = record.DESCRIPTOR.fields_by_name, patchable(type(record))
    for path in paths:
        if path not in fields:
            raise InvalidArgument(f"unknown field '{path}'", field=path)
        if path not in allowed:
            fixed = "cannot change after creation" if path in immutable(type(record)) else "is set by the server"
            raise InvalidArgument(f"'{path}' {fixed}", field=path)
    return paths


def apply_patch(record: Record, patch: Record, paths: Iterable[str]) -> None:
    """The named fields of `patch` replace those of `record` (maps and lists as a whole)."""
    for path in paths:
        record.ClearField(path)
        descriptor = record.DESCRIPTOR.fields_by_name[path]
        value = getattr(patch, path)
        if descriptor.message_type is not None and not descriptor.is_repeated:
            getattr(record, path).CopyFrom(value)
        elif descriptor.is_repeated:
            container = getattr(record, path)
            if descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
                container.update(value)
            else:
                container.extend(value)
        else:
            setattr(record, path, value)


def check_interaction(interaction: Interaction) -> None:
    if interaction.kind not in INTERACTION_KINDS:
        raise InvalidArgument(f"must be one of {', '.join(INTERACTION_KINDS)}", field="kind")
    if not (interaction.content.strip() or interaction.subject.strip()):
        raise InvalidArgument("an interaction needs a subject or content", field="content")
    if len(interaction.content) > MAX_CONTENT:
        raise InvalidArgument(f"content is at most {MAX_CONTENT} characters", field="content")


def check_definition(definition: CustomFieldDefinition) -> None:
    _one_of(definition.entity, ("contact", "account"), "entity", blank_ok=False)
    if not _KEY.match(definition.key):
        raise InvalidArgument("use snake_case, starting with a letter, at most 64 characters", field="key")
    _one_of(definition.type, FIELD_TYPES, "type", blank_ok=False)
    if definition.type == "choice" and not definition.choices:
        raise InvalidArgument("a choice field needs choices", field="choices")


def check_custom_fields(
    values: Struct, definitions: Mapping[str, CustomFieldDefinition], *, creating: bool
) -> None:
    """Values must match their declared type; unknown keys are refused, required ones enforced."""
    for key, value in values.items():
        field = f"custom_fields.{key}"
        definition = definitions.get(key)
        if definition is None:
            raise InvalidArgument(f"no custom field '{key}' is defined", field=field)
        if value is None:
            continue
        kind = definition.type
        ok = (
            (kind == "text" and isinstance(value, str))
            or (kind == "number" and isinstance(value, int | float) and not isinstance(value, bool))
            or (kind == "boolean" and isinstance(value, bool))
            or (kind == "choice" and value in definition.choices)
            or (kind == "date" and isinstance(value, str) and _is_date(value))
        )
        if not ok:
            expected = f"one of {', '.join(definition.choices)}" if kind == "choice" else f"a {kind}"
            raise InvalidArgument(f"must be {expected}", field=field)
    if creating:
        for key, definition in definitions.items():
            if definition.required and (key not in values or values[key] in (None, "")):  # Struct has no .get
                raise InvalidArgument("this custom field is required", field=f"custom_fields.{key}")


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def identity_values(record: Record) -> list[tuple[str, str]]:
    """(kind, value) pairs used to detect duplicates."""
    pairs = [("phone", p.number) for p in record.phones] + [("email", e.address) for e in record.emails]
    # the same openid is the same person, like the same phone
    if isinstance(record, Contact) and record.social_identities:
        pairs += social.values(record.social_identities)
    return pairs


def merge_into(survivor: Contact, other: Contact) -> list[str]:
    """Fold `other` into `survivor`: lists are united, empty scalars filled. Returns the fields
    that changed on the survivor."""
    changed: list[str] = []
    for name in ("title", "account_id", "company_name", "industry", "source", "level", "lifecycle_stage",
                 "language"):
        if not getattr(survivor, name) and getattr(other, name):
            setattr(survivor, name, getattr(other, name))
            changed.append(name)
    numbers, addresses = {p.number for p in survivor.phones}, {e.address for e in survivor.emails}
    for phone in other.phones:
        if phone.number not in numbers:
            numbers.add(phone.number)
            survivor.phones.append(phone)
            changed.append("phones")
    for email in other.emails:
        if email.address not in addresses:
            addresses.add(email.address)
            survivor.emails.append(email)
            changed.append("emails")
    for address in other.addresses:
        if address not in survivor.addresses:
            survivor.addresses.append(address)
            changed.append("addresses")
    for tag in other.tags:
        if tag not in survivor.tags:
            survivor.tags.append(tag)
            changed.append("tags")
    for mapping in ("social", "preferences"):
        target, source = getattr(survivor, mapping), getattr(other, mapping)
        for key, value in source.items():
            if key not in target:
                target[key] = value
                changed.append(mapping)
    for key, value in other.custom_fields.items():
        if key not in survivor.custom_fields:
            survivor.custom_fields[key] = value
            changed.append("custom_fields")
    if social.merge(survivor, other):
        changed.append("social_identities")
    if merge_consents(survivor, other):
        changed.append("consents")
    return sorted(set(changed))
