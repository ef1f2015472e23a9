#!/bin/bash
# GPU chain for the embedded model (session 5; run from the repo root on the GPU machine): train for a time budget, then return the last stage's weights in
# <=15 MB pieces (the device tool returns at most 8 files of 16 MiB). Env: OUT, DEVICE, SCALE, WORKERS,
# MIN_VAE/MIN_TEACHER/MIN_LCD/MIN_CN (minutes), LIMIT_S (hard stop of the training command), W_RANGE (LCD and
# ControlNet guidance w, session 6: "2 10"; spec "5 15"). Crops are floored (the chain's --floor-crops default).
# Carry along (the device tool sends only the repo): .devcarry/data (a copy of ../shared/data) and
# .devcarry/text_*.pt (runs/cache caption embeddings, so no text encoder is needed there). STAGES picks stages;
# with RUN=.devcarry/gpu_run a carried vae/model.safetensors is reused (STAGES=teacher,lcd,controlnet).
# Session 7: the VAE limits everything (val MPJPE 241 mm; reconstructions of real kicks, waves, dances fail the
# probes), so the default chain now trains a larger VAE (latent 16x16, width 192; VAE_TOKENS/VAE_DIM/VAE_HIDDEN/
# VAE_FF) with a bone-length loss (VAE_BONES) for longer (MIN_VAE 4.0), and ships the weights in fp16 with the
# retrieval bank (the chain's export; build it on the CPU afterwards if the export did not run).
set -u
RUN=${RUN:-/tmp/gpu_run}
export PYTHONUNBUFFERED=1 MOTIONLCM_CACHE_DIR=${CACHE:-/tmp/gpu_cache}
mkdir -p "$MOTIONLCM_CACHE_DIR" "$RUN" && cp .devcarry/text_*.pt "$MOTIONLCM_CACHE_DIR"/
PY=${PY:-python3}
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi -L 2>/dev/null
ls "$MOTIONLCM_CACHE_DIR" > "$OUT/cache_before.txt"
timeout -s TERM "${LIMIT_S:-560}" $PY -m motionlcm_core.training embedded --run-dir "$RUN" \
  --data-dir .devcarry/data --device "${DEVICE:-cuda}" --threads 4 --batch-scale "${SCALE:-4}" \
  --num-workers "${WORKERS:-4}" \
  --vae-steps 200000 --vae-minutes "${MIN_VAE:-4.0}" \
  --vae-latent-tokens "${VAE_TOKENS:-16}" --vae-latent-dim "${VAE_DIM:-16}" \
  --vae-hidden-dim "${VAE_HIDDEN:-192}" --vae-ff-size "${VAE_FF:-384}" --vae-bone-weight "${VAE_BONES:-1.0}" \
  --teacher-steps 200000 --teacher-minutes "${MIN_TEACHER:-1.6}" \
  --lcd-steps 200000 --lcd-minutes "${MIN_LCD:-1.3}" \
  --controlnet-steps 200000 --controlnet-minutes "${MIN_CN:-1.0}" \
  --guidance-w-range ${W_RANGE:-2 10} \
  --stages "${STAGES:-vae,teacher,lcd,controlnet}" > "$OUT/chain.log" 2>&1
echo "chain exit $?"
ls "$MOTIONLCM_CACHE_DIR" > "$OUT/cache_after.txt"
for s in controlnet lcd teacher vae; do
  if [ -f "$RUN/$s/model.safetensors" ]; then
    echo "shipping $s"; split -b 15M -d "$RUN/$s/model.safetensors" "$OUT/${s}_model.part"; break
  fi
done
tar czf "$OUT/logs.tgz" -C "$RUN" --exclude=checkpoint.pt --exclude=model.safetensors . "$OUT/cache_before.txt" "$OUT/cache_after.txt" 2>/dev/null
rm -f "$OUT/cache_before.txt" "$OUT/cache_after.txt"
tail -c 3000 "$OUT/chain.log"; grep -h "planned\|vae: {" "$RUN"/*/train.log; ls -la "$OUT"
