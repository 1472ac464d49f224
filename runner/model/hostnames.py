"""OpsWorks-style hostname themes.

An instance without an explicit ``hostname`` gets one from the stack's
``hostname_theme``. ``Layer_Dependent`` names hosts after their first layer
(``app1``, ``app2``, ``lb1``); every other theme hands out names from a list
in file order. Assignment is deterministic: the same stack file always gives
the same hostnames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LAYER_DEPENDENT = "Layer_Dependent"

THEMES: dict[str, tuple[str, ...] | None] = {
    LAYER_DEPENDENT: None,
    "Baked_Goods": (
        "baguette", "bagel", "brioche", "croissant", "ciabatta", "focaccia", "scone",
        "muffin", "pretzel", "crumpet", "danish", "eclair", "macaron", "strudel",
        "biscotti", "brownie", "cannoli", "churro", "donut", "pita", "naan", "tortilla",
        "madeleine", "panettone", "stollen",
    ),
    "Clouds": (
        "cirrus", "cumulus", "stratus", "nimbus", "altocumulus", "altostratus",
        "cirrocumulus", "cirrostratus", "cumulonimbus", "nimbostratus", "stratocumulus",
        "lenticularis", "mammatus", "castellanus", "fractus", "pileus", "velum",
        "arcus", "incus", "floccus", "undulatus", "radiatus",
    ),
    "European_Cities": (
        "amsterdam", "athens", "barcelona", "berlin", "bern", "bratislava", "brussels",
        "bucharest", "budapest", "copenhagen", "dublin", "edinburgh", "florence",
        "geneva", "helsinki", "krakow", "lisbon", "ljubljana", "london", "lyon",
        "madrid", "milan", "oslo", "paris", "prague", "riga", "rome", "sofia",
        "stockholm", "tallinn", "vienna", "vilnius", "warsaw", "zagreb", "zurich",
    ),
    "Fruits": (
        "apple", "apricot", "banana", "blackberry", "blueberry", "cherry", "coconut",
        "cranberry", "date", "fig", "grape", "grapefruit", "guava", "kiwi", "lemon",
        "lime", "lychee", "mango", "melon", "nectarine", "orange", "papaya", "peach",
        "pear", "pineapple", "plum", "pomegranate", "quince", "raspberry", "strawberry",
    ),
    "Greek_Deities": (
        "zeus", "hera", "poseidon", "demeter", "athena", "apollo", "artemis", "ares",
        "aphrodite", "hephaestus", "hermes", "hestia", "dionysus", "hades", "persephone",
        "eros", "nike", "hecate", "helios", "selene", "eos", "pan", "iris", "nemesis",
        "tyche", "gaia", "uranus", "rhea",
    ),
    "Planets_and_Moons": (
        "mercury", "venus", "earth", "luna", "mars", "phobos", "deimos", "jupiter", "io",
        "europa", "ganymede", "callisto", "saturn", "titan", "enceladus", "mimas",
        "rhea", "iapetus", "uranus", "miranda", "ariel", "titania", "oberon", "neptune",
        "triton", "pluto", "charon",
    ),
    "Roman_Deities": (
        "jupiter", "juno", "neptune", "ceres", "minerva", "apollo", "diana", "mars",
        "venus", "vulcan", "mercury", "vesta", "bacchus", "pluto", "proserpina",
        "cupid", "victoria", "aurora", "sol", "luna", "janus", "saturn", "fortuna",
        "faunus", "flora", "pomona",
    ),
    "Wild_Cats": (
        "lion", "tiger", "leopard", "jaguar", "cheetah", "cougar", "lynx", "bobcat",
        "ocelot", "serval", "caracal", "margay", "oncilla", "jaguarundi", "kodkod",
        "manul", "sand-cat", "fishing-cat", "clouded-leopard", "snow-leopard",
        "marbled-cat", "rusty-spotted-cat", "black-footed-cat", "wildcat",
    ),
    "Cheeses": (
        "brie", "camembert", "cheddar", "comte", "edam", "emmental", "feta", "fontina",
        "gorgonzola", "gouda", "gruyere", "halloumi", "havarti", "manchego",
        "mascarpone", "mozzarella", "munster", "parmesan", "pecorino", "provolone",
        "raclette", "reblochon", "ricotta", "roquefort", "stilton", "taleggio",
    ),
}

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def is_valid_hostname(name: str) -> bool:
    """True for an RFC 1123 host name in lower case (labels of letters, digits, hyphens)."""
    return bool(_HOSTNAME.match(name))


def layer_prefix(layer: str) -> str:
    """The DNS-safe stem a Layer_Dependent name is built from: ``web_app`` -> ``web-app``."""
    stem = re.sub(r"[^a-z0-9-]", "-", layer.lower()).strip("-")
    return stem or "host"


def assign_hostnames(
    theme: str, instances: list[tuple[str, str | None, str | None]]
) -> dict[str, str]:
    """Give every instance a hostname.

    :param theme: a key of :data:`THEMES`.
    :param instances: ``(name, first_layer, explicit_hostname_or_None)`` in file order.
    :returns: instance name -> hostname. Explicit hostnames are kept and never
        handed out to another instance.
    :raises KeyError: unknown theme (the loader reports it to the user first).
    """
    names = THEMES[theme]
    taken = {explicit for _, _, explicit in instances if explicit}
    result: dict[str, str] = {}
    if names is None:
        counters: dict[str, int] = {}
        for name, layer, explicit in instances:
            if explicit:
                result[name] = explicit
                continue
            prefix = layer_prefix(layer or "")
            candidate = ""
            while not candidate or candidate in taken:
                counters[prefix] = counters.get(prefix, 0) + 1
                candidate = f"{prefix}{counters[prefix]}"
            taken.add(candidate)
            result[name] = candidate
        return result
    pool = _theme_names(names)
    for name, _layer, explicit in instances:
        if explicit:
            result[name] = explicit
            continue
        candidate = next(pool)
        while candidate in taken:
            candidate = next(pool)
        taken.add(candidate)
        result[name] = candidate
    return result


def _theme_names(names: tuple[str, ...]) -> Iterator[str]:
    """The theme's names, then ``name-2`` for each, then ``name-3``, ... without end."""
    yield from names
    round_ = 2
    while True:
        for name in names:
            yield f"{name}-{round_}"
        round_ += 1
