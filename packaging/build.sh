#!/usr/bin/env bash
# Build the BrainLens desktop bundle for this OS with PyInstaller.
#   Linux: dist/BrainLens-<version>-linux-<arch>.tar.gz
#   macOS: dist/BrainLens.app and dist/BrainLens-<version>-macos-<arch>.dmg (hdiutil)
# Windows: use packaging/build.ps1 (PyInstaller + Inno Setup).
#
# Environment knobs:
#   PYTHON        interpreter for the build venv (default python3; needs 3.11+)
#   BUILD_VENV    build virtual environment (default build/pkg-venv; reused if present)
#   TORCH_INDEX   pip index for torch, e.g. https://download.pytorch.org/whl/cpu for a CPU-only Linux build
#                 (~1 GB smaller than the CUDA wheels); leave empty for PyPI's default wheels
#   CODESIGN_ID   macOS signing identity (optional; unsigned apps need right-click > Open the first time)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${BUILD_VENV:-$REPO/build/pkg-venv}"
DIST="$REPO/dist"
WORK="$REPO/build/pyinstaller"
cd "$REPO"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --upgrade pip
if [ -n "${TORCH_INDEX:-}" ]; then
  "$PY" -m pip install torch torchvision --index-url "$TORCH_INDEX"
fi
mkdir -p "$REPO/resources"  # hatchling force-includes it; git does not keep empty folders
"$PY" -m pip install "$REPO" "pyinstaller>=6.10" "pyinstaller-hooks-contrib>=2024.8"

VERSION="$("$PY" -c 'import brainlens; print(brainlens.__version__)')"
ARCH="$(uname -m)"
echo "== BrainLens $VERSION on $(uname -s)/$ARCH"

echo "== checking bundled models"
"$PY" "$HERE/verify_models.py" "$REPO/models"

echo "== PyInstaller"
"$PY" -m PyInstaller --noconfirm --clean --distpath "$DIST" --workpath "$WORK" "$HERE/brainlens.spec"

case "$(uname -s)" in
  Darwin) BIN_DIR="$DIST/BrainLens.app/Contents/MacOS" ;;
  *)      BIN_DIR="$DIST/BrainLens" ;;
esac

echo "== smoke test"
"$BIN_DIR/brainlens-cli" --help >/dev/null
"$BIN_DIR/brainlens-cli" info --help >/dev/null
if QT_QPA_PLATFORM=offscreen "$BIN_DIR/brainlens-cli" --demo --screenshot "$WORK/smoke.png"; then
  echo "GUI rendered offscreen: $WORK/smoke.png"
else
  echo "GUI smoke test failed" >&2
  exit 1
fi

case "$(uname -s)" in
  Darwin)
    if [ -n "${CODESIGN_ID:-}" ]; then
      codesign --deep --force --options runtime --sign "$CODESIGN_ID" "$DIST/BrainLens.app"
    fi
    DMG="$DIST/BrainLens-$VERSION-macos-$ARCH.dmg"
    STAGE="$WORK/dmg"
    rm -rf "$STAGE" "$DMG"
    mkdir -p "$STAGE"
    cp -R "$DIST/BrainLens.app" "$STAGE/"
    ln -s /Applications "$STAGE/Applications"  # drag-to-install target
    hdiutil create -volname "BrainLens $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
    echo "== built $DMG"
    ;;
  *)
    TGZ="$DIST/BrainLens-$VERSION-linux-$ARCH.tar.gz"
    tar -C "$DIST" -czf "$TGZ" BrainLens
    echo "== built $TGZ (unpack anywhere, run BrainLens/BrainLens or BrainLens/brainlens-cli)"
    ;;
esac
