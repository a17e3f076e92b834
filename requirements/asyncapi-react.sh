#!/bin/sh
# The AsyncAPI page's script and styles (shared/docs.py serves them at /docs-assets/): the standalone bundle of
# @asyncapi/react-component, the one FastStream's page would load from a CDN. No PyPI package ships it, and at
# 3 MB of generated JavaScript it does not belong in git, so `make install` and the image's build fetch it from
# the npm registry with npm: this version, this tarball (sha256 checked), and from it only the two files the
# page needs and the package's license, into DEST (shared/asyncapi-react/, which git ignores).
#
# To update: set VERSION, run `npm pack @asyncapi/react-component@VERSION`, set SHA256 to the `sha256sum` of
# the .tgz it writes, then `make install`.
set -eu
VERSION=3.1.5
SHA256=dbce51c726b998c608ccfa1c802317044016824596c96e725461b2e4a77b40b1

dest=${1:?usage: sh requirements/asyncapi-react.sh DEST}
command -v npm >/dev/null || {
    echo "npm (Node.js) is needed to fetch @asyncapi/react-component for the AsyncAPI page" >&2
    exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@asyncapi/react-component@$VERSION" >/dev/null)
tarball="$work/asyncapi-react-component-$VERSION.tgz"
if [ "$(sha256sum "$tarball" | cut -d ' ' -f 1)" != "$SHA256" ]; then
    echo "@asyncapi/react-component@$VERSION is not the tarball pinned in $0 (sha256 differs)" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work" package/browser/standalone/index.js package/styles/default.min.css package/LICENSE
mkdir -p "$work/out"
cp "$work/package/browser/standalone/index.js" "$work/out/index.js"
cp "$work/package/styles/default.min.css" "$work/out/default.min.css"
cp "$work/package/LICENSE" "$work/out/LICENSE"
printf '@asyncapi/react-component@%s\n' "$VERSION" >"$work/out/VERSION"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/out" "$dest"
