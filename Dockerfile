# The API image: `qa serve` on port 8000, normally in server mode against a Chroma server
# (see compose.yaml). Build: docker build -t news-qa .
FROM python:3.11-slim

# torch comes first, as the CPU build from the PyTorch CPU index: PyPI's Linux wheel pulls
# several GB of CUDA libraries that this service never uses. Point TORCH_INDEX_URL at a
# mirror of that index if the build host cannot reach it.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

WORKDIR /app
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

COPY pyproject.toml README.md ./
COPY config ./config
COPY index ./index
COPY qa ./qa
RUN pip install .

COPY seeds ./seeds
# Export the ONNX embedder and reader at build time (into /app/data/models), so that replicas start
# without each exporting, or racing to write, the same files.
RUN qa export-onnx

# data/ only holds derived state (the model export, the read model); the corpus is in Chroma.
# data/readmodel exists in the image so that a volume mounted there starts owned by qa.
RUN mkdir -p /app/data/readmodel && useradd --system --uid 10001 --home-dir /app qa && chown -R qa /app/data
USER qa

ENV QA_HOST=0.0.0.0 \
    QA_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["qa", "serve"]
