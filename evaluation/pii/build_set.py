"""Builds evaluation/pii/pii_sentences.jsonl, the labelled PII set of issue #14 (deterministic).

Run: .venv/bin/python evaluation/pii/build_set.py

Each line is {"text": ..., "spans": [{"start", "end", "type"}]} with types from core.pii.PiiType.
Sentences are written from templates of document and question text (HR, support, finance,
technical docs) with generated values: names of many origins, e-mails, phone numbers in
international and national formats (kept only when libphonenumber calls them valid: an invalid
number is not a phone number), card numbers with a valid Luhn digit, IBANs of eleven countries
with valid checksums, IPv4 and IPv6 addresses. About a fifth are hard negatives with no PII:
product names, code identifiers, versions, dates, money, places, order numbers.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import phonenumbers

SEED = 14
OUT = Path(__file__).with_name("pii_sentences.jsonl")

FIRST = [
    "Maria", "James", "Priya", "Wei", "Fatima", "Oluwaseun", "Sofia", "Mateo", "Yuki", "Ahmed",
    "Ingrid", "Dmitri", "Aisha", "Carlos", "Mei", "Liam", "Chloe", "Rahul", "Hannah", "Kwame",
    "Elena", "Mohammed", "Sven", "Lucia", "Hiroshi", "Amara", "Jonas", "Nadia", "Thomas", "Ana",
    "Siobhan", "Tomasz", "Zainab", "Diego", "Anika", "Samuel", "Leila", "Björn", "Chiara", "Arjun",
]  # fmt: skip
LAST = [
    "Garcia", "Smith", "Raghunathan", "Zhang", "Al-Sayed", "Adeyemi", "Rossi", "Fernández", "Tanaka",
    "Hassan", "Johansson", "Volkov", "Bello", "Mendoza", "Chen", "O'Brien", "Dubois", "Sharma",
    "Müller", "Mensah", "Popescu", "Khan", "Lindqvist", "Moretti", "Nakamura", "Okafor", "Weber",
    "Haddad", "Novak", "Silva", "Kowalski", "Nguyen", "Schmidt", "Ivanova", "Kim", "Patel", "Cohen",
    "Andersen", "Kaur", "Murphy",
]  # fmt: skip
DOMAINS = ["example.com", "acme-corp.io", "mail.example.org", "contoso.co.uk", "fabrikam.de", "globex.fr"]

# Phone formats: (region, list of example strings); each is checked with libphonenumber.
PHONE_TEMPLATES = [
    ("US", "({a}) {b}-{c}"), ("US", "{a}-{b}-{c}"), ("US", "+1 {a} {b} {c}"), ("US", "{a}.{b}.{c}"),
    ("GB", "+44 20 {d4} {e4}"), ("GB", "020 {d4} {e4}"), ("GB", "+44 7{d3} {e6}"),
    ("DE", "+49 30 {d4}{e4}"), ("DE", "030 {d4} {e4}"), ("FR", "+33 1 {p2} {q2} {r2} {s2}"),
    ("FR", "01 {p2} {q2} {r2} {s2}"), ("IN", "+91 98{d3} {e5}"), ("AU", "+61 2 {d4} {e4}"),
    ("NL", "+31 20 {d3} {e4}"), ("ES", "+34 91 {d3} {p2} {q2}"), ("IT", "+39 06 {d4} {e4}"),
]  # fmt: skip
US_AREAS = ["212", "415", "617", "312", "206", "303", "512", "646", "702", "919"]

IBAN_FORMATS = {  # country: (length of BBAN, builder of the BBAN)
    "DE": lambda r: _digits(r, 18),
    "GB": lambda r: r.choice(["NWBK", "BARC", "HBUK", "LOYD"]) + _digits(r, 14),
    "FR": lambda r: _digits(r, 23),
    "NL": lambda r: r.choice(["ABNA", "INGB", "RABO"]) + _digits(r, 10),
    "ES": lambda r: _digits(r, 20),
    "IT": lambda r: "X" + _digits(r, 22),
    "BE": lambda r: _digits(r, 12),
    "CH": lambda r: _digits(r, 17),
    "AT": lambda r: _digits(r, 16),
    "IE": lambda r: r.choice(["AIBK", "BOFI"]) + _digits(r, 14),
    "PL": lambda r: _digits(r, 24),
}


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _luhn_complete(prefix: str, length: int, r: random.Random) -> str:
    body = prefix + _digits(r, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def card(r: random.Random) -> str:
    kind = r.choice(["visa", "mc", "amex", "test"])
    if kind == "test":
        return r.choice(["4111 1111 1111 1111", "5555 5555 5555 4444", "4242 4242 4242 4242", "3782 822463 10005"])
    if kind == "amex":
        n = _luhn_complete(r.choice(["34", "37"]), 15, r)
        return r.choice([f"{n[:4]} {n[4:10]} {n[10:]}", n])
    n = _luhn_complete("4" if kind == "visa" else r.choice(["51", "53", "55"]), 16, r)
    sep = r.choice([" ", "-", ""])
    return sep.join(n[i : i + 4] for i in range(0, 16, 4))


def iban(r: random.Random) -> str:
    country = r.choice(sorted(IBAN_FORMATS))
    bban = IBAN_FORMATS[country](r)
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    if r.random() < 0.6:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def phone(r: random.Random) -> str:
    while True:
        region, template = r.choice(PHONE_TEMPLATES)
        value = template.format(
            a=r.choice(US_AREAS), b=str(r.randint(201, 989)), c=_digits(r, 4),
            d3=_digits(r, 3), d4=str(r.randint(2000, 8999)), e4=_digits(r, 4), e5=_digits(r, 5),
            e6=_digits(r, 6), p2=_digits(r, 2), q2=_digits(r, 2), r2=_digits(r, 2), s2=_digits(r, 2),
        )  # fmt: skip
        try:
            parsed = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return value


def ipv4(r: random.Random) -> str:
    return r.choice([f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                     f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}",
                     f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"])  # fmt: skip


def ipv6(r: random.Random) -> str:
    groups = [f"{r.randint(0, 0xFFFF):x}" for _ in range(4)]
    return r.choice([f"2001:db8:{groups[0]}:{groups[1]}::{groups[2]}", "fe80::" + ":".join(groups),
                     "2001:0db8:" + ":".join(groups) + ":0000:0001"])  # fmt: skip


def person(r: random.Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def email(r: random.Random, name: str | None = None) -> str:
    name = name or person(r)
    first, last = name.split(" ", 1)
    ascii_last = last.lower().replace("'", "").replace("ü", "ue").replace("á", "a").replace("é", "e")
    ascii_first = first.lower().replace("ö", "o")
    local = r.choice(
        [f"{ascii_first}.{ascii_last}", f"{ascii_first[0]}{ascii_last}", f"{ascii_first}_{r.randint(1, 99)}"]
    )
    return f"{local}@{r.choice(DOMAINS)}"


# Templates: "{PERSON}" etc. are slots; literal text around them. Grouped by what they contain.
PERSON_TEMPLATES = [
    "Please send the signed contract to {PERSON} before Friday.",
    "{PERSON} joined the finance team in March as a senior analyst.",
    "The onboarding checklist was approved by {PERSON} on behalf of HR.",
    "Can {PERSON} approve my expense report while my manager is away?",
    "Who replaced {PERSON} as the on-call engineer for the payments service?",
    "According to the minutes, {PERSON} objected to the new travel policy.",
    "Escalate the ticket to {PERSON} if the customer calls again.",
    "What did {PERSON} say about the parental leave request?",
    "Our account manager, {PERSON}, will schedule the quarterly review.",
    "The incident report lists {PERSON} as the first responder.",
    "Is {PERSON} still the data protection officer for the Berlin office?",
    "I spoke with {PERSON} and {PERSON} about the budget overrun.",
    "Dear {PERSON}, your reimbursement has been processed.",
    "The performance review for {PERSON} is due next week.",
    "{PERSON} asked whether remote work is allowed from abroad.",
]
EMAIL_TEMPLATES = [
    "Send the invoice to {EMAIL} and copy the accounts team.",
    "My login is {EMAIL} but the password reset link never arrives.",
    "Contact {EMAIL} for questions about the benefits enrolment.",
    "Why was the message from {EMAIL} flagged as spam?",
    "The customer wrote from {EMAIL} asking for a refund.",
    "Please update my address on file to {EMAIL}.",
    "Reports are mailed nightly to {EMAIL}.",
]
PHONE_TEMPLATES_TEXT = [
    "Call the support desk at {PHONE} between 9 and 5.",
    "The customer left a voicemail; her callback number is {PHONE}.",
    "Can I change the phone number on my account to {PHONE}?",
    "For urgent outages dial {PHONE} and ask for the duty manager.",
    "His mobile is {PHONE} if the email bounces.",
    "The hotel confirmed the booking by phone ({PHONE}).",
    "Why does the system reject {PHONE} as my emergency contact?",
]
CARD_TEMPLATES = [
    "The charge on card {CREDIT_CARD} was declined twice.",
    "Please refund the order paid with {CREDIT_CARD}.",
    "My corporate card number is {CREDIT_CARD}; it expires next month.",
    "Why was {CREDIT_CARD} charged twice for the same subscription?",
    "Test payments in the sandbox use {CREDIT_CARD} with any future expiry.",
    "The travel booking was made on the card ending in the number {CREDIT_CARD}.",
]
IBAN_TEMPLATES = [
    "Salary is paid into IBAN {IBAN} at the end of each month.",
    "Please wire the deposit to {IBAN}.",
    "The supplier changed their bank account to {IBAN}; is that legitimate?",
    "Refunds go back to the account {IBAN} unless the customer asks otherwise.",
    "Can you confirm that {IBAN} belongs to our Dutch subsidiary?",
    "Beneficiary account: {IBAN}, reference INV-2291.",
]
IP_TEMPLATES = [
    "The failed logins came from {IP_ADDRESS} over the weekend.",
    "Whitelist {IP_ADDRESS} in the firewall for the VPN gateway.",
    "Why is my laptop getting the address {IP_ADDRESS} instead of a DHCP lease?",
    "The audit log shows access from {IP_ADDRESS} at 03:12 UTC.",
    "Block {IP_ADDRESS}; it has been scanning our API.",
]
MIXED_TEMPLATES = [
    "{PERSON} ({EMAIL}, {PHONE}) is the contact for the Lyon office.",
    "Hi, I am {PERSON}; please charge {CREDIT_CARD} and send the receipt to {EMAIL}.",
    "Customer {PERSON} asked us to move the refund from {CREDIT_CARD} to {IBAN}.",
    "{PERSON} reported that {IP_ADDRESS} kept hammering the login page.",
    "New starter: {PERSON}, phone {PHONE}, salary account {IBAN}.",
    "Can you forward {PERSON}'s message from {EMAIL} to the fraud team?",
]
NEGATIVES = [
    "Upgrade PostgreSQL to 16.2 before migrating the Kubernetes cluster.",
    "The 2024-10-01 release of Verity 3.8.0 fixed the memory leak.",
    "Travel expenses above $4,500.00 need the CFO's approval.",
    "Call getUserName() before rendering the profile template.",
    "Set MAX_RETRIES = 5 and TIMEOUT_MS = 30000 in config.yaml.",
    "The Paris and Berlin offices close on 24 December.",
    "Order ORD-2024-55812 shipped on 3 March 2025.",
    "Invoice 2023/0917 totals EUR 12,480.50 including VAT.",
    "Apple, Microsoft and Oracle licences are renewed every January.",
    "Policy 4.2 applies to every Manager and Team Lead.",
    "Run pip install django==5.2.19 inside the virtual environment.",
    "The build number 20241130.4 failed on the arm64 runner.",
    "Use the HR Portal to request Annual Leave.",
    "Version 1.2.3.4 of the agent is deprecated.",
    "Room 4.17 on the fourth floor is reserved for interviews.",
    "The API returns HTTP 429 when the rate limit of 100 requests per minute is exceeded.",
    "What is the reimbursement limit for meals in London?",
    "How many vacation days do employees get after five years?",
    "Which VPN client should I install on macOS Sonoma?",
    "The Q3 revenue grew 12% to $3.4 million.",
    "Set the cron schedule to 0 3 * * * for the nightly backup.",
    "Jira ticket PLAT-4411 tracks the Redis upgrade.",
    "The SHA-256 of the installer is 9f86d081884c7d659a2feaa0c55ad015.",
    "Washington State and Georgia have different overtime rules.",
    "Submit Form W-4 before your first payroll on 15 January.",
    "Amazon Web Services bills arrive on the 3rd of each month.",
    "The Christmas party is at the Grand Hotel on 12/19/2025 at 7 pm.",
    "Rotate the keys in AWS KMS every 90 days.",
    "Python 3.11.7 and Node 20.10.0 are the supported runtimes.",
    "The warehouse in Springfield ships 1,250 parcels a day.",
    "Our ISO 27001 audit is scheduled for week 14.",
    "Use the Slack channel #it-help for laptop issues.",
    "The parking permit costs 35 EUR per month.",
    "Can I carry over unused leave into 2026?",
    "The Lincoln building closes at 18:00 on Fridays.",
    "Check the Grafana dashboard for p95 latency above 250 ms.",
    "Reference number 5521-0091-33 is printed on the payslip.",
    "The Ford Focus pool car needs a service at 30,000 km.",
    "The Jordan fund invests in emerging markets.",
    "Merge the feature/login-rate-limit branch after review.",
    "The Python class UserAccountManager lives in accounts/services.py.",
    "Our Zurich office moved to Bahnhofstrasse 12.",
    "Expense code 6410 covers software subscriptions.",
    "The SLA promises 99.9% uptime measured monthly.",
    "Employees in Victoria and Georgia follow the regional calendar.",
    "What does the Security Officer do during an incident?",
    "Set the heap size to 2048 MB in the Tomcat settings.",
    "Docker image verity:2025.11.3 is the current production build.",
    "Is the Friday meeting moved to Monday?",
    "The January payroll run closes on the 25th.",
    "Price list 2025: Basic 9.99, Pro 19.99, Enterprise on request.",
    "Our Amsterdam data centre runs on renewable energy.",
    "Customer satisfaction rose from 4.1 to 4.6 stars.",
    "The Warren Report template lives in the Finance folder.",
    "Angular 17 and React 18 are both allowed for new projects.",
    "The Madison Avenue store reopens after renovation.",
    "Set LOG_LEVEL=INFO and restart the worker.",
    "Use UTC timestamps like 2025-06-30T23:59:59Z in the logs.",
    "The Milan team owns the checkout service.",
    "Ticket volume peaked at 1,873 on Black Friday.",
    "Port 5432 must be open between the app and database subnets.",
    "A Sterling silver award goes to the best team of the year.",
    "Phone support is available in English, French and German.",
    "Card payments are settled within three business days.",
]


def sentence(template: str, r: random.Random) -> dict[str, object]:
    text = ""
    spans: list[dict[str, object]] = []
    names: list[str] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        text += before
        if slot == "PERSON":
            value = person(r)
            names.append(value)
        elif slot == "EMAIL":
            value = email(r, names[-1] if names and r.random() < 0.5 else None)
        elif slot == "PHONE":
            value = phone(r)
        elif slot == "CREDIT_CARD":
            value = card(r)
        elif slot == "IBAN":
            value = iban(r)
        elif slot == "IP_ADDRESS":
            value = ipv4(r) if r.random() < 0.7 else ipv6(r)
        else:
            raise ValueError(slot)
        spans.append({"start": len(text), "end": len(text) + len(value), "type": slot})
        text += value
    text += rest
    return {"text": text, "spans": spans}


def build() -> list[dict[str, object]]:
    r = random.Random(SEED)  # noqa: S311 - a reproducible data set, not a secret
    rows: list[dict[str, object]] = []
    for templates, repeats in (
        (PERSON_TEMPLATES, 5),
        (EMAIL_TEMPLATES, 6),
        (PHONE_TEMPLATES_TEXT, 7),
        (CARD_TEMPLATES, 6),
        (IBAN_TEMPLATES, 6),
        (IP_TEMPLATES, 5),
        (MIXED_TEMPLATES, 5),
    ):
        for _ in range(repeats):
            for template in templates:
                rows.append(sentence(template, r))
    rows.extend({"text": text, "spans": []} for text in NEGATIVES)
    r.shuffle(rows)
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} sentences -> {OUT}")


if __name__ == "__main__":
    main()
