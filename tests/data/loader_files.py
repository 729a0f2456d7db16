"""Writers of tiny files in every source format, shared by the loader, registry and download tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def _flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in GENRES)


def write_ml100k(folder: Path, with_genre_file: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t3\t4\t891717742\n"
                                   "3\t1\t1\t878887116\n")
    toy = _flags("Animation", "Children's", "Comedy")
    lines = [f"1|Toy Story (1995)|01-Jan-1995||http://x/1|{toy}",
             f"2|Misérables, Les (1995)|01-Jan-1995||http://x/2|{_flags('Drama', 'War')}",
             f"3|unknown||||{_flags('unknown')}"]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    if with_genre_file:
        (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n"
                                   "3|23|M|writer|32067\n")
    return folder


def write_ml1m(folder: Path, colakg: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.dat").write_bytes("1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                        "2::Misérables, Les (1995)::Drama\n"
                                        "3::Heat (1995)::Action|Crime|Thriller\n".encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    if not colakg:
        (folder / "ratings.dat").write_text("1::1::5::978300760\n1::3::3::978302109\n"
                                            "2::2::4::978301968\n")
        return folder
    sub = folder / "colakg_implicit"
    sub.mkdir()
    (sub / "item_map.txt").write_text("3 0\n1 1\n2 2\n")
    (sub / "user_map.txt").write_text("1 0\n2 1\n")
    (sub / "train.txt").write_text("0 0 1\n1 2\n")
    (sub / "test.txt").write_text("0 2\n1 0\n")
    return folder


def write_ml_latest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
                                        "1,2,3.5,964981247\n2,1,5.0,964982224\n")
    (folder / "movies.csv").write_text('movieId,title,genres\n1,Toy Story (1995),'
                                       'Adventure|Animation\n2,"American President, The (1995)",'
                                       "(no genres listed)\n3,NaN (2001),Drama\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n2,1,pixar,1\n3,1,fun,2\n"
                                     "4,1,pixar,3\n")
    return folder


def _gz_lines(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def review(user: str, asin: str, t: int, rating: float = 5.0, text: str = "Great") -> str:
    return json.dumps({"overall": rating, "verified": True, "reviewerID": user, "asin": asin,
                       "reviewText": text, "summary": f"{rating} stars", "unixReviewTime": t})


def meta(asin: str, title: str, **extra) -> str:
    record = {"category": ["Gift Cards", "Restaurants"], "description": ["A card."], "title": title,
              "brand": "Acme", "feature": [], "price": "$10.00", "asin": asin, **extra}
    return json.dumps(record)


def write_amazon2018(folder: Path, category: str = "Gift_Cards", with_meta: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _gz_lines(folder / f"{category}_5.json.gz",
              [review("A1", "B001", 100), review("A1", "0", 200, 3.0, "ok"),
               review("A2", "B001", 150, 4.0), review("A2", "B999", 160, 1.0, "bad")])
    if with_meta:
        _gz_lines(folder / f"meta_{category}.json.gz",
                  [meta("B001", "Acme $10 card"), meta("0", "Zero card", description=[]),
                   meta("B001", "Acme $10 card"), meta("B001", "Acme $10 card (new)"),
                   meta("B500", "Never reviewed")])
    return folder


def write_recbole(folder: Path, sequences: dict[str, list[str]], max_len: int = 3,
                  prefix: str = "Toy") -> Path:
    """Atomic files as UniSRec writes them: every train prefix (longest first), histories
    truncated to ``max_len``; sequences use item *ASINs*, users reviewer ids."""
    folder.mkdir(parents=True, exist_ok=True)
    asins = list(dict.fromkeys(a for seq in sequences.values() for a in seq))
    item_idx = {a: str(i) for i, a in enumerate(asins)}
    user_idx = {u: str(i) for i, u in enumerate(sequences)}
    (folder / f"{prefix}.item2index").write_text("".join(f"{a}\t{i}\n" for a, i in item_idx.items()))
    (folder / f"{prefix}.user2index").write_text("".join(f"{u}\t{i}\n" for u, i in user_idx.items()))
    (folder / f"{prefix}.text").write_text("item_id:token\ttext:token_seq\n"
                                           + "".join(f"{a}\tText of {a}. \n" for a in asins))
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    rows = {"train": [], "valid": [], "test": []}
    for user, seq in sequences.items():
        idx = [item_idx[a] for a in seq]
        n = len(idx)
        for t in range(n - 3, 0, -1):
            rows["train"].append((user_idx[user], idx[max(0, t - max_len):t], idx[t]))
        rows["valid"].append((user_idx[user], idx[max(0, n - 2 - max_len):n - 2], idx[n - 2]))
        rows["test"].append((user_idx[user], idx[max(0, n - 1 - max_len):n - 1], idx[n - 1]))
    for split, split_rows in rows.items():
        body = "".join(f"{u}\t{' '.join(h)}\t{t}\n" for u, h, t in split_rows)
        (folder / f"{prefix}.{split}.inter").write_text(header + body)
    return folder


def write_lcrec(folder: Path, prefix: str = "Toy") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    items = {"0": {"title": "Zero item", "description": "", "brand": "Acme",
                   "categories": "Tools,Hand Tools"},
             "1": {"title": "One item", "description": "Sharp.", "brand": "Acme", "categories": ""},
             "2": {"title": "Two item", "description": "Blunt.", "brand": "", "categories": "Tools"}}
    (folder / f"{prefix}.item.json").write_text(json.dumps(items, indent=2))
    (folder / f"{prefix}.inter.json").write_text(json.dumps({"0": [2, 0, 1], "1": [1, 0]}))
    return folder


def write_table(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.csv").write_text("uid,sku,ts,stars,device\n007,0,100,5,web\n007,12,200,4,app\n"
                                       "8,0,150,,web\n")
    (folder / "items.csv").write_text("sku,name,blurb\n0,Zero,First item\n12,NA,\n")
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "uid", "item_id": "sku", "timestamp": "ts", "rating": "stars"},
        "items": "items.csv", "item_id": "sku", "text_fields": ["name", "blurb"]}))
    return folder


def write_llmcdsr(folder: Path) -> Path:
    """An LLMCDSR Food-Kitchen-shaped folder: 3 food items (global ids 0-2), 4 kitchen items
    (global ids 3-6 = local 0-3), one user per train file, 2 valid and 2 test lines (last id =
    target): valid V:1 → food FC, V:2 → kitchen KD; test T:1 → kitchen KB, T:2 → food FA."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "num.txt").write_text("3\n4\n")
    (folder / "instance_num.txt").write_text("1\n1\n1\n")
    (folder / "item_set_A.json").write_text(json.dumps({"FA": 0, "FB": 1, "FC": 2}))
    (folder / "item_set_B.json").write_text(json.dumps({"KA": 0, "KB": 1, "KC": 2, "KD": 3}))
    (folder / "text_A.json").write_text(json.dumps({"FA": "Green tea", "FB": "Dark chocolate", "FC": "Olive oil"}))
    (folder / "text_B.json").write_text(json.dumps({"KA": "Tea kettle", "KB": "Chef knife", "KC": "Frying pan",
                                                    "KD": "Oil sprayer"}))
    (folder / "train_A.txt").write_text("1\t0,1,2\n")
    (folder / "train_B.txt").write_text("1\t3,4,5,6\n")
    (folder / "train_overlap.txt").write_text("1\t0,3,1,4\n")
    (folder / "valid.txt").write_text("1\t0,3,1,2\n2\t1,5,6\n")
    (folder / "test.txt").write_text("1\t2,3,0,4\n2\t5,1,0\n")
    return folder
