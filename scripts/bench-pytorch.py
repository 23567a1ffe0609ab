#!/usr/bin/env python3
"""PyTorch's side of scripts/bench-vs-pytorch.sh: the same shapes as `tessera bench mammal` and
`tessera bench rna` (random weights, fp32, batch-first), timed the same way (median pass after a
warm-up), printed as one JSON object per row.

Rows: the MAMMAL 458M-shaped T5 v1.1 encoder (tokens/s) and its cached greedy decoding
(generated tokens/s after the encoder pass), and a BERT 12 × 768 encoder (cells/s).
"""

import argparse
import json
import statistics
import sys
import time

import torch
import transformers


def median_seconds(run):
    """Median of passes run for 3 s (at least 1, at most 15), after the caller's warm-up:
    the rule `tessera bench` uses."""
    started = time.perf_counter()
    times = []
    while not times or (len(times) < 15 and time.perf_counter() - started < 3.0):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def emit(**row):
    print(json.dumps({"engine": "pytorch", **row}), flush=True)


def mammal_rows(lengths, new_tokens):
    # MAMMAL's published shape (T5Config::v1_1(768, 64, 2048, 12, 12, 100_001) in tessera).
    config = transformers.T5Config(
        vocab_size=100_001,
        d_model=768,
        d_kv=64,
        d_ff=2048,
        num_layers=12,
        num_decoder_layers=12,
        num_heads=12,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=16,
        eos_token_id=5,
        pad_token_id=1,
        dropout_rate=0.0,
    )
    torch.manual_seed(7)
    model = transformers.T5ForConditionalGeneration(config).eval()
    generator = torch.Generator().manual_seed(7)
    for length in lengths:
        ids = torch.randint(501, 526, (1, length), generator=generator)
        ids[0, 0] = 4
        ids[0, -1] = 5
        mask = torch.ones_like(ids)
        encoder = model.get_encoder()

        def encode():
            encoder(input_ids=ids, attention_mask=mask)

        def generate():
            model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                num_beams=1,
                use_cache=True,
            )

        with torch.inference_mode():
            encode()
            encoder_s = median_seconds(encode)
            generate()
            generate_s = median_seconds(generate)
        emit(model="mammal", row="encoder", batch=1, length=length, per_second=length / encoder_s,
             unit="tokens/s")
        emit(model="mammal", row="decode", batch=1, length=length,
             per_second=new_tokens / max(generate_s - encoder_s, 1e-9), unit="tokens/s")


def bert_rows(shapes):
    # SCBert's transformer: 12 layers × 768, 12 heads, FFN 3072, exact GELU, post-LN.
    config = transformers.BertConfig(
        vocab_size=19_316,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=1024,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(7)
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    generator = torch.Generator().manual_seed(7)
    for batch, length in shapes:
        ids = torch.randint(5, 19_316, (batch, length), generator=generator)
        mask = torch.ones_like(ids)

        def embed():
            model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]

        with torch.inference_mode():
            embed()
            seconds = median_seconds(embed)
        emit(model="rna", row="embed", batch=batch, length=length, per_second=batch / seconds,
             unit="cells/s")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--mammal-lengths", default="64,512,1500")
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--bert-shapes", default="1x256,32x256,1x1024")
    parser.add_argument("--only", choices=["mammal", "rna"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    emit(version=torch.__version__, transformers=transformers.__version__,
         threads=torch.get_num_threads())
    if args.only in (None, "mammal"):
        mammal_rows([int(n) for n in args.mammal_lengths.split(",")], args.new_tokens)
    if args.only in (None, "rna"):
        shapes = [tuple(int(n) for n in s.split("x")) for s in args.bert_shapes.split(",")]
        bert_rows(shapes)


if __name__ == "__main__":
    sys.exit(main())
