"""python -m knowledge_base build | ingest | search | evaluate | train-encoder."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge_base.config import KbConfig


def _bar(label: str, total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="", leave=False, disable=total == 0, file=sys.stderr)


def _encoder(config: KbConfig, name: str | None):
    from knowledge_base.encoder import SentenceTransformerEncoder

    name = name or config.encoder_name
    if name is None:
        print("note: no encoder trained yet (python -m knowledge_base train-encoder); BM25 only",
              file=sys.stderr)
        return None
    return SentenceTransformerEncoder(name)


def cmd_build(args, config: KbConfig) -> int:
    from knowledge_base.index import build

    report = build(config, encoder=None if args.bm25_only else _encoder(config, args.encoder),
                   force=args.force, progress=_bar, index_kind=args.index)
    print(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
    return 0


def cmd_ingest(args, config: KbConfig) -> int:
    from knowledge_base.corpus import read_records, records_to_articles, save_external

    path = Path(args.file)
    records = read_records(path)
    articles = records_to_articles(records, id_field=args.id_field, text_field=args.text_field,
                                   title_field=args.title_field, category_field=args.category_field,
                                   prefix=args.prefix, source=path.name)
    from tqdm import tqdm

    count = save_external(tqdm(articles, desc="ingesting", unit=" docs", file=sys.stderr),
                          config.external_dir / f"{path.stem}.jsonl")
    print(json.dumps({"ingested": count, "file": str(path), "next": "python -m knowledge_base build"},
                     ensure_ascii=False))
    return 0


def _open(config: KbConfig):
    from knowledge_base.holder import KnowledgeBaseHolder

    holder = KnowledgeBaseHolder(config)
    if not holder.refresh():
        print(f"no index in {config.kb_dir}: run python -m knowledge_base build", file=sys.stderr)
        return None
    return holder.current


def cmd_search(args, config: KbConfig) -> int:
    kb = _open(config)
    if kb is None:
        return 2
    result = kb.search(args.query, k=args.k, mode=args.mode)
    print(f"confidence {result.confidence:.2f} ({'answer' if result.answerable else 'not sure'}), mode {result.mode}")
    for rank, hit in enumerate(result.hits, 1):
        print(f"{rank}. [{hit.article_id}] {hit.title}  score={hit.score:.4f} bm25={hit.bm25:.2f} cos={hit.cosine:.2f}")
        print(f"   {hit.snippet[:80]}")
    return 0


def cmd_evaluate(args, config: KbConfig) -> int:
    from knowledge_base.evaluate import evaluate, read_questions

    kb = _open(config)
    if kb is None:
        return 2
    questions = read_questions(Path(args.questions))
    report = evaluate(kb, questions, modes=args.modes.split(","), progress=_bar)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


def cmd_train_encoder(args, config: KbConfig) -> int:
    from knowledge_base.encoder import read_pairs, train_static_encoder, write_heldout
    from knowledge_base.index import corpus
    from knowledge_base.pairs import corpus_pairs, corpus_texts, hold_out

    articles, held = hold_out(corpus(config), args.holdout)
    pairs = corpus_pairs(articles)
    for extra in args.pairs or []:
        pairs += read_pairs(Path(extra))
    out = Path(args.out) if args.out else config.encoder_dir
    from tqdm import tqdm

    bar = tqdm(total=args.epochs, desc="training", unit=" epochs", file=sys.stderr)

    def tick(loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.3f}")
        bar.update(1)

    report = train_static_encoder(pairs, corpus_texts(articles), out, dim=args.dim, epochs=args.epochs,
                                  vocab_size=args.vocab, tokenizer_kind=args.tokenizer, progress=tick)
    write_heldout(out, held)
    bar.close()
    print(json.dumps({"model": str(out), **report.__dict__}, ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m knowledge_base`."""
    parser = argparse.ArgumentParser(prog="python -m knowledge_base", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the index (incremental; no-op when nothing changed)")
    p.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    p.add_argument("--encoder", help="embedding model (default: EMBEDDING_MODEL or the trained one)")
    p.add_argument("--bm25-only", action="store_true", help="no dense part")
    p.add_argument("--index", default="auto", choices=["auto", "flat", "hnsw"], help="dense index kind")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ingest", help="add external documents/FAQs from JSONL or CSV")
    p.add_argument("file")
    p.add_argument("--id-field", default="id")
    p.add_argument("--text-field", default="text")
    p.add_argument("--title-field")
    p.add_argument("--category-field")
    p.add_argument("--prefix", default="ext-", help="prefix of the ingested ids")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="search the current index")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "bm25", "dense"])
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("evaluate", help="recall@1/3/5 and MRR on a TSV of question and article id")
    p.add_argument("--questions", required=True)
    p.add_argument("--modes", default="bm25,dense,hybrid")
    p.add_argument("--out", help="also write the JSON report here")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train-encoder", help="train the compact Chinese encoder from question pairs")
    p.add_argument("--pairs", action="append", help="extra pairs (TSV anchor<TAB>positive, or JSONL)")
    p.add_argument("--out", help="model directory (default KB_DIR/encoder-zh)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--tokenizer", default="char", choices=["char", "bpe"])
    p.add_argument("--holdout", type=int, default=1,
                   help="questions per article kept out of training for calibration (0: none)")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--vocab", type=int, default=8000)
    p.set_defaults(func=cmd_train_encoder)

    args = parser.parse_args(argv)
    config = KbConfig.from_env()
    try:
        return args.func(args, config)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
