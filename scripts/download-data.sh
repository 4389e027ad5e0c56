#!/usr/bin/env bash
# Fetches the official dataset archives, checks their SHA-256 and unpacks them where the
# dataset plugins look by default (data/...). Needs curl, sha256sum and tar (unzip for glove).
# Run it on a machine with internet; the tests never call it.
#
#   bash scripts/download-data.sh [--dir DIR] DATASET...
#   DATASET: cifar10 cifar100 mnist fashion-mnist femnist sent140 glove all
#
# Nothing is left half-written: files are downloaded to *.part, verified, then moved into
# place; archives are unpacked into a temporary folder that is renamed when complete.
set -euo pipefail

cd "$(dirname "$0")/.."
DIR=data
SHARED=../shared/data

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

die() { echo "download-data: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required (apt-get install $2)"; }

# fetch URL SHA256 DEST: download to DEST.part, check the checksum, move to DEST.
fetch() {
    local url=$1 sha=$2 dest=$3
    if [[ -f "$dest" ]] && echo "$sha  $dest" | sha256sum --check --status; then
        echo "  $dest: already present, checksum OK"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    echo "  downloading $url"
    curl -fL --retry 3 --progress-bar -o "$dest.part" "$url" || die "download failed: $url"
    local got
    got=$(sha256sum "$dest.part" | cut -d' ' -f1)
    if [[ "$got" != "$sha" ]]; then
        rm -f "$dest.part"
        die "checksum mismatch for $url: expected $sha, got $got (the download is corrupt or the file changed upstream)"
    fi
    mv "$dest.part" "$dest"
    echo "  $dest: checksum OK"
}

# unpack ARCHIVE FOLDER: extract ARCHIVE (which holds FOLDER at its top) into $DIR/FOLDER atomically.
unpack() {
    local archive=$1 folder=$2
    local tmp="$DIR/.unpack-$folder-$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    tar xf "$archive" -C "$tmp" || { rm -rf "$tmp"; die "cannot unpack $archive"; }
    [[ -d "$tmp/$folder" ]] || { rm -rf "$tmp"; die "$archive does not contain $folder/"; }
    rm -rf "${DIR:?}/$folder"
    mv "$tmp/$folder" "$DIR/$folder"
    rm -rf "$tmp"
    echo "  unpacked into $DIR/$folder"
}

cifar10() {
    echo "cifar10 (CIFAR-10 binary version, https://www.cs.toronto.edu/~kriz/cifar.html)"
    fetch https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz \
        c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd "$DIR/downloads/cifar-10-binary.tar.gz"
    unpack "$DIR/downloads/cifar-10-binary.tar.gz" cifar-10-batches-bin
}

cifar100() {
    echo "cifar100 (CIFAR-100 binary version, https://www.cs.toronto.edu/~kriz/cifar.html)"
    fetch https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz \
        58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec "$DIR/downloads/cifar-100-binary.tar.gz"
    unpack "$DIR/downloads/cifar-100-binary.tar.gz" cifar-100-binary
}

mnist() {
    echo "mnist (the original IDX files, Google's CVDF mirror of yann.lecun.com/exdb/mnist)"
    local base=https://storage.googleapis.com/cvdf-datasets/mnist
    fetch "$base/train-images-idx3-ubyte.gz" 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609 "$DIR/mnist/train-images-idx3-ubyte.gz"
    fetch "$base/train-labels-idx1-ubyte.gz" 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c "$DIR/mnist/train-labels-idx1-ubyte.gz"
    fetch "$base/t10k-images-idx3-ubyte.gz" 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6 "$DIR/mnist/t10k-images-idx3-ubyte.gz"
    fetch "$base/t10k-labels-idx1-ubyte.gz" f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6 "$DIR/mnist/t10k-labels-idx1-ubyte.gz"
}

fashion_mnist() {
    echo "fashion-mnist (Zalando; on Debian, 'apt-get install dataset-fashion-mnist' is the simpler way)"
    local base=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
    fetch "$base/train-images-idx3-ubyte.gz" 3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84 "$DIR/fashion-mnist/train-images-idx3-ubyte.gz"
    fetch "$base/train-labels-idx1-ubyte.gz" a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845 "$DIR/fashion-mnist/train-labels-idx1-ubyte.gz"
    fetch "$base/t10k-images-idx3-ubyte.gz" 346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073 "$DIR/fashion-mnist/t10k-images-idx3-ubyte.gz"
    fetch "$base/t10k-labels-idx1-ubyte.gz" 67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5 "$DIR/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    echo "  use it with dataset: { name: fashion-mnist, root: $DIR/fashion-mnist }"
}

# LEAF data has no official archive: it is generated from the raw NIST / Sentiment140 data by
# LEAF's scripts. The project ships small real samples in ../shared/data.
leaf() {
    local name=$1 archive=$2 flags=$3
    echo "$name (LEAF JSON)"
    if [[ -f "$SHARED/$archive" ]]; then
        unpack "$SHARED/$archive" "$name"
        echo "  this is the project's sample ($SHARED/$archive), not the full data set"
    else
        echo "  LEAF builds it from the raw data (several GB, about an hour):"
        echo "    git clone https://github.com/TalwalkarLab/leaf && cd leaf/data/$name && ./preprocess.sh $flags"
        echo "  then copy leaf/data/$name/data/{train,test} to $DIR/$name/"
    fi
}

glove() {
    echo "glove (GloVe 6B vectors, https://nlp.stanford.edu/projects/glove/)"
    need unzip unzip
    local zip="$DIR/downloads/glove.6B.zip"
    if [[ ! -f "$zip" ]]; then
        mkdir -p "$DIR/downloads"
        curl -fL --retry 3 --progress-bar -o "$zip.part" https://nlp.stanford.edu/data/glove.6B.zip || die "download failed"
        mv "$zip.part" "$zip"
    fi
    # Stanford publishes no checksum; unzip -t checks every member's CRC-32 instead.
    unzip -tq "$zip" >/dev/null || die "$zip is corrupt (unzip -t failed); delete it and retry"
    echo "  sha256 $(sha256sum "$zip" | cut -d' ' -f1) (no official checksum is published; record it for reproducibility)"
    mkdir -p "$DIR/glove"
    unzip -o -q "$zip" glove.6B.300d.txt -d "$DIR/glove/.part-$$"
    mv "$DIR/glove/.part-$$/glove.6B.300d.txt" "$DIR/glove/glove.6B.300d.txt"
    rmdir "$DIR/glove/.part-$$"
    echo "  use it with dataset: { name: sent140, glove: $DIR/glove/glove.6B.300d.txt }"
}

datasets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) DIR=${2:?--dir needs a folder}; shift 2 ;;
        -h|--help) usage 0 ;;
        all) datasets+=(cifar10 cifar100 mnist fashion-mnist femnist sent140 glove); shift ;;
        cifar10|cifar100|mnist|fashion-mnist|femnist|sent140|glove) datasets+=("$1"); shift ;;
        *) echo "unknown dataset '$1'" >&2; usage 2 ;;
    esac
done
[[ ${#datasets[@]} -gt 0 ]] || usage 2
need curl curl
need sha256sum coreutils
need tar tar
mkdir -p "$DIR"

for d in "${datasets[@]}"; do
    case "$d" in
        cifar10) cifar10 ;;
        cifar100) cifar100 ;;
        mnist) mnist ;;
        fashion-mnist) fashion_mnist ;;
        femnist) leaf femnist femnist-leaf-sample.tar.xz "-s niid --sf 1.0 -k 0 -t sample" ;;
        sent140) leaf sent140 sent140-leaf-test.tar.xz "-s niid --sf 1.0 -k 3 -t sample" ;;
        glove) glove ;;
    esac
done
