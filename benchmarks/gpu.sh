#!/usr/bin/env bash
# One prepared GPU run, under 8 minutes on one H200: training (random-initialised
# Qwen2.5-0.5B and Llama-3.2-1B shapes, LoRA r16, bf16: ftp against TRL's strongest
# configurations), scoring (HFLM at fixed sizes and batch_size=auto against FastLM, 0.5B shape:
# ARC-Challenge, HellaSwag, MMLU subjects 5-shot) and, when benchmarks/serve.py exists, its
# serving benchmark. Writes one JSON, benchmarks/results/gpu.json, and prints a summary.
#
#   bash benchmarks/gpu.sh            # on a CUDA machine
#   bash benchmarks/gpu.sh --smoke    # tiny shapes, a few documents, on CPU (tested in CI)
#
# Installs nothing but the project itself (pip --no-deps), and only if it is not importable.
# FTP_GPU_OUT: where the JSON goes (default benchmarks/results/gpu.json or gpu_smoke.json).
# FTP_GPU_PARTS: which parts run (default train,eval,serve).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SMOKE=0
[[ "${1:-}" == "--smoke" ]] && SMOKE=1
PY=${PYTHON:-python}
"$PY" -c "import ftp" 2>/dev/null || "$PY" -m pip install -q --no-deps -e . || exit 2
PARTS=$(mktemp -d "${TMPDIR:-/tmp}/ftp-gpu-XXXXXX")
export FTP_HOME=${FTP_HOME:-$PARTS/home}
# the benchmark data: FTP_BENCHDATA, else ../shared/benchdata (eval.py's default), else ./shared
if [[ -z "${FTP_BENCHDATA:-}" && ! -d "$ROOT/../shared/benchdata" && -d "$ROOT/shared/benchdata" ]]; then
  export FTP_BENCHDATA=$ROOT/shared/benchdata
fi
if [[ $SMOKE == 1 ]]; then
  OUT=${FTP_GPU_OUT:-$ROOT/benchmarks/results/gpu_smoke.json}
  TRAIN=(--smoke --shapes smoke-qwen --arms trl_padding_free,ftp)
  EVAL=(--smoke --tasks arc_challenge,mmlu_abstract_algebra --batch-sizes 4 --auto-max 8)
  LIMITS=(120 120 60)
else
  OUT=${FTP_GPU_OUT:-$ROOT/benchmarks/results/gpu.json}
  TRAIN=(--steps 8 --arms trl_padding_free,trl_bfd,ftp)
  MMLU=mmlu_abstract_algebra,mmlu_anatomy,mmlu_astronomy,mmlu_high_school_mathematics,mmlu_marketing
  EVAL=(--tasks "arc_challenge,hellaswag,$MMLU" --limit 300 --batch-sizes 32,64
        --auto-max 128 --repeats 1 --dtype float32)
  LIMITS=(240 150 90)
fi

part() {  # part NAME SECONDS COMMAND...: run with a time limit, keep its output and status
  local name=$1 limit=$2 start
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" >"$PARTS/$name.log" 2>&1
  echo $? >"$PARTS/$name.rc"
  echo $(($(date +%s) - start)) >"$PARTS/$name.seconds"
  echo "$name: exit $(cat "$PARTS/$name.rc") after $(cat "$PARTS/$name.seconds")s" >&2
}

WANTED=",${FTP_GPU_PARTS:-train,eval,serve},"
if [[ $WANTED == *,train,* ]]; then
  part train "${LIMITS[0]}" "$PY" benchmarks/train_gpu.py "${TRAIN[@]}" --out "$PARTS/train.json"
fi
if [[ $WANTED == *,eval,* ]]; then
  part eval "${LIMITS[1]}" "$PY" benchmarks/eval_gpu.py "${EVAL[@]}" --out "$PARTS/eval.json"
fi
if [[ $WANTED == *,serve,* && -f benchmarks/serve.py ]]; then  # issue 12's; run when there
  SERVE=(--gpu)
  [[ $SMOKE == 1 ]] && SERVE=(--smoke)
  part serve "${LIMITS[2]}" "$PY" benchmarks/serve.py "${SERVE[@]}" --out "$PARTS/serve.json"
fi
"$PY" benchmarks/gpu_summary.py "$PARTS" "$OUT" "$SMOKE"
