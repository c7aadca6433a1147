#!/usr/bin/env bash
# Helm for the chart's tests, built from the Go module proxy into $PACTA_CACHE_DIR/tools once:
# prints the path of the helm binary. Uses the `go` on PATH when it is new enough, otherwise
# the Go toolchain module (golang.org/toolchain) from the same proxy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_VERSION=v3.22.1
GO_VERSION=1.26.8   # helm v3.22 needs Go 1.26
TOOLS="$CACHE/tools"
HELM="$TOOLS/helm-$HELM_VERSION/helm"
PROXY="${GOPROXY:-https://proxy.golang.org}"
PROXY="${PROXY%%,*}"

go_binary() {
    local go have
    if go="$(command -v go)"; then
        have="$("$go" env GOVERSION 2>/dev/null | sed 's/^go//')"
        if [[ "$(printf '%s\n%s\n' "$GO_VERSION" "$have" | sort -V | head -n1)" == "$GO_VERSION" ]]; then
            echo "$go"
            return 0
        fi
    fi
    local arch dir zip
    case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) die "no Go for $(uname -m)" ;; esac
    dir="$TOOLS/go-$GO_VERSION"
    if [[ ! -x "$dir/bin/go" ]]; then
        command -v unzip >/dev/null || apt_ensure unzip
        say "fetching Go $GO_VERSION from $PROXY"
        zip="$(mktemp)"
        curl -fsSL -o "$zip" \
            "$PROXY/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip"
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        unzip -q "$zip" -d "$dir.tmp" && rm -f "$zip"
        mv "$dir.tmp/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$arch" "$dir"
        rm -rf "$dir.tmp"
        chmod +x "$dir/bin/"* "$dir/pkg/tool/"*/* 2>/dev/null || true
    fi
    echo "$dir/bin/go"
}

if [[ ! -x "$HELM" ]]; then
    go="$(go_binary)"
    say "building helm $HELM_VERSION (a few minutes, once)"
    mkdir -p "$(dirname "$HELM")"
    GOFLAGS=-mod=mod GOTOOLCHAIN=local GOBIN="$(dirname "$HELM")" \
        "$go" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
fi
echo "$HELM"
