#!/usr/bin/env bash
# macOS: "Model Playground.app" (PyInstaller BUNDLE from the same spec) -> signed, notarised .dmg.
# Run on a Mac, from the repository root, in a venv with the app installed (CPU/MPS torch wheels
# from PyPI are the macOS build: there is no CUDA on macOS):
#   python -m pip install -c constraints.txt . -r packaging/requirements-package.txt
#   packaging/macos/build_dmg.sh
# Signing and notarisation run only when these are set (otherwise an unsigned .dmg for testing):
#   CODESIGN_IDENTITY="Developer ID Application: Your Name (TEAMID)"
#   NOTARY_PROFILE=model-playground   # made once: xcrun notarytool store-credentials model-playground \
#                                     #   --apple-id you@example.com --team-id TEAMID --password APP-SPECIFIC-PW
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
VERSION=$($PY -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
ARCH=$(uname -m)
APP="dist/Model Playground.app"
DMG="dist/model-playground-${VERSION}-macos-${ARCH}.dmg"

# the .icns the spec and Info.plist name, made from the PNG icon
$PY - <<'PYEOF'
from PIL import Image
Image.open("packaging/icons/model-playground.png").save("packaging/icons/model-playground.icns")
PYEOF

$PY -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
    packaging/model-playground.spec
cp packaging/icons/model-playground.icns "$APP/Contents/Resources/"

# the bundle must pass its own self-test before it is signed and shipped
QT_QPA_PLATFORM=offscreen "$APP/Contents/MacOS/model-playground" --self-test

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    # sign every native library inside out, then the app, with the hardened runtime
    find "$APP/Contents" -type f \( -name "*.dylib" -o -name "*.so" \) -print0 |
        xargs -0 codesign --force --timestamp --options runtime \
            --entitlements packaging/macos/entitlements.plist --sign "$CODESIGN_IDENTITY"
    codesign --force --timestamp --options runtime \
        --entitlements packaging/macos/entitlements.plist --sign "$CODESIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

rm -f "$DMG"
STAGE=$(mktemp -d)
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"   # drag the app onto Applications to install
hdiutil create -volname "Model Playground" -srcfolder "$STAGE" -ov -format ULMO "$DMG"
rm -rf "$STAGE"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
    spctl --assess --type open --context context:primary-signature --verbose "$DMG"
fi
ls -lh "$DMG"
