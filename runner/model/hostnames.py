"""OpsWorks-style hostname themes.

An instance without an explicit ``hostname`` gets one from the stack's
``hostname_theme``. The theme names are spelled as the OpsWorks API spelled them, plus our own
``Cheeses``. ``Layer_Dependent`` names hosts after their first layer
(``app1``, ``app2``, ``lb1``); every other theme hands out names from a list
in file order. Assignment is deterministic: the same stack file always gives
the same hostnames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LAYER_DEPENDENT = "Layer_Dependent"
#: earlier spellings of two themes -> the OpsWorks API's (stack.yml with an old one is an error)
RENAMED_THEMES: dict[str, str] = {"European_Cities": "Europe_Cities", "Greek_Deities": "Greek_Deities_and_Titans"}

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
    "Europe_Cities": (
        "amsterdam", "antwerp", "athens", "barcelona", "berlin", "bern", "bilbao", "bologna", "bordeaux",
        "bratislava", "brno", "brussels", "bucharest", "budapest", "cologne", "copenhagen", "dresden",
        "dublin", "edinburgh", "florence", "frankfurt", "gdansk", "geneva", "genoa", "glasgow", "gothenburg",
        "graz", "hamburg", "helsinki", "krakow", "lisbon", "ljubljana", "london", "lyon", "madrid", "malmo",
        "marseille", "milan", "munich", "naples", "oslo", "paris", "porto", "prague", "riga", "rome",
        "rotterdam", "seville", "sofia", "stockholm", "tallinn", "turin", "valencia", "venice", "vienna",
        "vilnius", "warsaw", "zagreb", "zurich",
    ),
    "Fruits": (
        "apple", "apricot", "banana", "blackberry", "blueberry", "cherry", "coconut",
        "cranberry", "date", "fig", "grape", "grapefruit", "guava", "kiwi", "lemon",
        "lime", "lychee", "mango", "melon", "nectarine", "orange", "papaya", "peach",
        "pear", "pineapple", "plum", "pomegranate", "quince", "raspberry", "strawberry",
    ),
    "Greek_Deities_and_Titans": (
        "zeus", "hera", "poseidon", "demeter", "athena", "apollo", "artemis", "ares",
        "aphrodite", "hephaestus", "hermes", "hestia", "dionysus", "hades", "persephone",
        "eros", "nike", "hecate", "helios", "selene", "eos", "pan", "iris", "nemesis",
        "tyche", "gaia", "uranus", "rhea", "cronus", "oceanus", "hyperion", "coeus", "crius",
        "iapetus", "theia", "themis", "mnemosyne", "phoebe", "tethys", "atlas", "prometheus",
        "epimetheus", "metis",
    ),
    "Legendary_creatures_from_Japan": (
        "akaname", "amabie", "bakeneko", "baku", "hitotsume-kozo", "jorogumo", "kamaitachi", "kappa",
        "karakasa", "kirin", "kitsune", "kodama", "komainu", "mujina", "nekomata", "noppera-bo", "nue",
        "nurikabe", "oni", "raiju", "rokurokubi", "ryujin", "shisa", "tanuki", "tengu", "tsuchinoko",
        "tsukumogami", "umibozu", "ushi-oni", "yamata-no-orochi", "yamauba", "yuki-onna",
        "zashiki-warashi",
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
    "Scottish_Islands": (
        "arran", "barra", "benbecula", "berneray", "bressay", "bute", "canna", "coll", "colonsay",
        "cumbrae", "eday", "eigg", "eriskay", "fetlar", "foula", "gigha", "harris", "hoy", "iona", "islay",
        "jura", "kerrera", "lewis", "lismore", "lunga", "muck", "mull", "raasay", "rousay", "rum",
        "sanday", "scalpay", "shapinsay", "skye", "staffa", "stronsay", "taransay", "tiree", "ulva",
        "unst", "vatersay", "westray", "whalsay", "yell",
    ),
    "US_Cities": (
        "atlanta", "austin", "baltimore", "boston", "buffalo", "charlotte", "chicago", "cincinnati",
        "cleveland", "columbus", "dallas", "denver", "detroit", "el-paso", "fresno", "honolulu", "houston",
        "indianapolis", "jacksonville", "kansas-city", "las-vegas", "los-angeles", "louisville", "memphis",
        "miami", "milwaukee", "minneapolis", "nashville", "new-orleans", "new-york", "oakland", "omaha",
        "philadelphia", "phoenix", "pittsburgh", "portland", "raleigh", "sacramento", "salt-lake-city",
        "san-antonio", "san-diego", "san-francisco", "san-jose", "seattle", "st-louis", "tampa", "tucson",
        "tulsa",
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
