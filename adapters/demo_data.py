"""Deterministic demo customers (TMF629 Customer Management v4) for a European MVNO brand."""

import random
import re
import unicodedata
from typing import Any

COUNTRIES = ["IE", "DE", "FR", "ES", "IT", "NL", "PT"]
LANGUAGE = {"IE": "en", "DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "PT": "pt"}
# Mobile prefix (country code + mobile range) and number of random subscriber digits.
MOBILE = {
    "IE": ("+35387", 7),
    "DE": ("+49151", 8),
    "FR": ("+336", 8),
    "ES": ("+346", 8),
    "IT": ("+39347", 7),
    "NL": ("+316", 8),
    "PT": ("+35191", 7),
}
# Comma-separated so that multi-word Dutch surnames ("van Dijk") stay intact.
FIRST_NAMES = {
    "IE": "Aoife,Ciarán,Siobhán,Darragh,Niamh,Eoin,Róisín,Cathal",
    "DE": "Anna,Lukas,Katharina,Jonas,Lena,Felix,Sabine,Matthias",
    "FR": "Camille,Julien,Manon,Antoine,Élodie,Mathieu,Chloé,Thomas",
    "ES": "Lucía,Javier,Carmen,Alejandro,Marta,Pablo,Elena,Sergio",
    "IT": "Giulia,Lorenzo,Francesca,Matteo,Chiara,Davide,Sara,Alessandro",
    "NL": "Sanne,Daan,Fleur,Bram,Lotte,Sem,Eva,Thijs",
    "PT": "Inês,João,Beatriz,Tiago,Mariana,Rui,Catarina,Miguel",
}
LAST_NAMES = {
    "IE": "Murphy,Kelly,O'Brien,Byrne,Walsh,Ryan,Doyle,Gallagher",
    "DE": "Müller,Schmidt,Schneider,Fischer,Weber,Becker,Wagner,Hoffmann",
    "FR": "Martin,Bernard,Dubois,Laurent,Moreau,Girard,Lefèvre,Fontaine",
    "ES": "García,Fernández,López,Martínez,Sánchez,Romero,Navarro,Ruiz",
    "IT": "Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Colombo,Ricci",
    "NL": "de Jong,Jansen,de Vries,van den Berg,Bakker,Visser,Smit,van Dijk",
    "PT": "Silva,Santos,Ferreira,Pereira,Oliveira,Costa,Rodrigues,Martins",
}
# (country, street template, city, postcode, state/province -- "" where not customary)
ADDRESSES = [
    ("IE", "{n} Grafton Street", "Dublin", "D02 VF65", "Co. Dublin"),
    ("IE", "{n} Oliver Plunkett Street", "Cork", "T12 X2N5", "Co. Cork"),
    ("IE", "{n} Shop Street", "Galway", "H91 F9KT", "Co. Galway"),
    ("DE", "Leopoldstraße {n}", "München", "80802", "Bayern"),
    ("DE", "Schönhauser Allee {n}", "Berlin", "10435", "Berlin"),
    ("DE", "Ehrenstraße {n}", "Köln", "50672", "Nordrhein-Westfalen"),
    ("FR", "{n} Rue Oberkampf", "Paris", "75011", ""),
    ("FR", "{n} Rue de la République", "Lyon", "69002", ""),
    ("FR", "{n} Rue Sainte-Catherine", "Bordeaux", "33000", ""),
    ("ES", "Calle de Fuencarral {n}", "Madrid", "28004", "Madrid"),
    ("ES", "Carrer de Mallorca {n}", "Barcelona", "08008", "Barcelona"),
    ("ES", "Calle Sierpes {n}", "Sevilla", "41004", "Sevilla"),
    ("IT", "Via Torino {n}", "Milano", "20123", "MI"),
    ("IT", "Via del Corso {n}", "Roma", "00186", "RM"),
    ("IT", "Via dei Tribunali {n}", "Napoli", "80138", "NA"),
    ("NL", "Prinsengracht {n}", "Amsterdam", "1015 DX", "Noord-Holland"),
    ("NL", "Oudegracht {n}", "Utrecht", "3511 AX", "Utrecht"),
    ("NL", "Witte de Withstraat {n}", "Rotterdam", "3012 BP", "Zuid-Holland"),
    ("PT", "Rua Augusta {n}", "Lisboa", "1100-053", ""),
    ("PT", "Rua de Santa Catarina {n}", "Porto", "4000-447", ""),
    ("PT", "Rua Ferreira Borges {n}", "Coimbra", "3000-180", ""),
]
# Small-business customers; they occupy every 4th slot (4, 8, ..., 48).
ORGANIZATIONS = [
    ("Bäckerei Hoffmann GmbH", "DE"),
    ("Liffey Logistics Ltd", "IE"),
    ("Cabinet Dentaire Moreau", "FR"),
    ("Panadería Hermanos Ruiz S.L.", "ES"),
    ("Studio Dentistico Bianchi", "IT"),
    ("Van Dijk Transport B.V.", "NL"),
    ("Pastelaria Ferreira Lda", "PT"),
    ("Shannon Dental Care Ltd", "IE"),
    ("Kaiser Elektrotechnik GmbH", "DE"),
    ("Boulangerie Lefèvre SARL", "FR"),
    ("Trattoria Da Marco S.r.l.", "IT"),
    ("Bloem & Zoon Hoveniers V.O.F.", "NL"),
]
# Non-Approved statuses by slot; every other slot is Approved (35 in total).
STATUS = {
    5: "Validated", 19: "Validated", 27: "Validated", 37: "Validated", 44: "Validated",
    49: "Validated", 10: "Initialized", 28: "Initialized", 46: "Initialized", 50: "Initialized",
    7: "Suspended", 23: "Suspended", 41: "Suspended", 15: "Closed", 33: "Closed",
}  # fmt: skip
STATUS_REASON = {
    7: "Unpaid bills over 60 days",
    23: "Suspected SIM swap fraud under investigation",
    41: "Unpaid bills over 60 days",
    15: "Customer requested termination",
    33: "Number ported out to another operator",
}
CARD_BRANDS = ["Visa", "Mastercard"]
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _slug(text: str, sep: str = ".") -> str:
    ascii_text = unicodedata.normalize("NFKD", text.lower().translate(UMLAUTS))
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, ascii_text.replace("'", "")).strip(sep)


def _instant(year: int, month: int, day: int, hour: int = 10) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:00:00.000Z"


def _build(i: int, rng: random.Random, seen: dict[str, int]) -> tuple[str, dict[str, Any]]:
    """Build the TMF629 Customer create body for demo slot ``i`` (1-based)."""
    is_org = i % 4 == 0
    country = ORGANIZATIONS[i // 4 - 1][1] if is_org else COUNTRIES[i % len(COUNTRIES)]
    k = seen[country] = seen.get(country, -1) + 1  # running index per country
    first, last = FIRST_NAMES[country].split(","), LAST_NAMES[country].split(",")
    if is_org:
        name = ORGANIZATIONS[i // 4 - 1][0]
        email = f"{_slug(name, '-')}@example.org"
    else:
        name = f"{first[k % 8]} {last[(3 * k + 1) % 8]}"
        email = f"{_slug(name)}@example.{('com', 'net', 'org')[i % 3]}"
    status = STATUS.get(i, "Approved")
    _, street, city, post_code, province = [a for a in ADDRESSES if a[0] == country][k % 3]
    prefix, digits = MOBILE[country]
    phone = prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits))
    address: dict[str, Any] = {
        "contactType": "postalAddress",
        "street1": street.format(n=rng.randint(1, 180)),
        "city": city,
        "postCode": post_code,
        "country": country,
    }
    if province:
        address["stateOrProvince"] = province
    # Recent sign-ups are still in onboarding; closed accounts are older.
    year = 2026 if status in ("Initialized", "Validated") else 2024 + i % 2
    year = 2024 if status == "Closed" else year
    month, day = rng.randint(1, 9 if year == 2026 else 12), rng.randint(1, 28)
    valid_for = {"startDateTime": _instant(year, month, day)}
    if status == "Closed":
        valid_for["endDateTime"] = _instant(year + 1, rng.randint(1, 12), rng.randint(1, 28), 17)
    score = rng.randint(380, 540) if status == "Suspended" else rng.randint(560, 840)
    risk = 5 - sum(score >= cut for cut in (560, 640, 700, 760))  # 1 = lowest risk
    c_month, c_day = (month, day) if year == 2026 else (rng.randint(1, 9), rng.randint(1, 28))
    if is_org or rng.randint(0, 2) == 0:
        payment = "SEPA direct debit"
    else:
        payment = f"{rng.choice(CARD_BRANDS)} ending {rng.randint(1000, 9999)}"
    segment = "smallBusiness" if is_org else "consumer"
    billing = f"{name} billing account"
    related: list[dict[str, Any]] = []
    if is_org:
        contact = f"{first[(k + 5) % 8]} {last[(5 * k + 6) % 8]}"
        role = {"role": "contactPerson", "@referredType": "Individual"}
        related.append({"id": f"ind-demo-1{i:03d}", "name": contact, **role})
    body: dict[str, Any] = {
        "@type": "Customer",
        "name": name,
        "status": status,
        "engagedParty": {
            "id": f"{'org' if is_org else 'ind'}-demo-{i:04d}",
            "name": name,
            "@referredType": "Organization" if is_org else "Individual",
        },
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"contactType": "email", "emailAddress": email},
            },
            {
                "mediumType": "mobile",
                "preferred": False,
                "characteristic": {"contactType": "mobile", "phoneNumber": phone},
            },
            {"mediumType": "postalAddress", "preferred": False, "characteristic": address},
        ],
        "characteristic": [
            {"name": "preferredLanguage", "valueType": "string", "value": LANGUAGE[country]},
            {"name": "marketingConsent", "valueType": "boolean", "value": rng.randint(0, 4) > 1},
            {"name": "segment", "valueType": "string", "value": segment},
        ],
        "creditProfile": [
            {
                "creditProfileDate": _instant(2026, c_month, c_day, 9),
                "creditRiskRating": risk,
                "creditScore": score,
                "validFor": {
                    "startDateTime": _instant(2026, c_month, c_day, 9),
                    "endDateTime": _instant(2027, c_month, c_day, 9),
                },
            }
        ],
        "paymentMethod": [
            {"id": f"pm-demo-{i:04d}", "name": payment, "@referredType": "PaymentMethod"}
        ],
        "account": [{"id": f"ba-demo-{i:04d}", "name": billing, "@referredType": "BillingAccount"}],
        "relatedParty": related,
        "agreement": [],
        "validFor": valid_for,
    }
    if i in STATUS_REASON:
        body["statusReason"] = STATUS_REASON[i]
    return f"cus-demo-{i:04d}", body


def demo_customers() -> list[tuple[str, dict[str, Any]]]:
    """Return 50 deterministic (id, TMF629 Customer create body) demo pairs."""
    rng = random.Random(42)
    seen: dict[str, int] = {}
    return [_build(i, rng, seen) for i in range(1, 51)]
