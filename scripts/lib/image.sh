# shellcheck shell=bash
# make_busybox_image TAR REF: an OCI image layout archive in TAR holding one image named REF
# (a full reference, e.g. localhost/quickstart:latest): one uncompressed layer with the
# busybox rootfs of make_busybox_rootfs (scripts/lib/bundle.sh), Cmd ["sh"], for the host
# architecture. Deterministic: sorted entries, mtimes 0, numeric root ownership.
# Runs in a subshell so that its work directory goes also when a step fails under set -e.
make_busybox_image() (
    local tar=$1 ref=$2 work arch
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64) arch=arm64 ;;
        # GOARCH names (dpkg's differ: i386, armhf, ppc64el).
        i?86) arch=386 ;;
        armv*) arch=arm ;;
        *) arch=$(uname -m) ;;
    esac
    work=$(mktemp -d /tmp/pelagos-image.XXXXXX)
    # shellcheck disable=SC2064 # $work is fixed from here on
    trap "rm -rf '$work'" EXIT
    make_busybox_rootfs "$work/rootfs"
    mkdir -p "$work/oci/blobs/sha256"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -C "$work/rootfs" -cf "$work/layer.tar" .
    local layer layer_size config config_d manifest manifest_d
    layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
    layer_size=$(stat -c %s "$work/layer.tar")
    mv "$work/layer.tar" "$work/oci/blobs/sha256/$layer"
    config=$(jq -cn --arg arch "$arch" --arg diff "sha256:$layer" '{
      architecture: $arch, os: "linux", created: "1970-01-01T00:00:00Z",
      config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               Cmd: ["sh"], WorkingDir: "/"},
      rootfs: {type: "layers", diff_ids: [$diff]},
      history: [{created: "1970-01-01T00:00:00Z", created_by: "scripts/lib/image.sh: busybox-static"}]}')
    config_d=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
    printf '%s' "$config" > "$work/oci/blobs/sha256/$config_d"
    manifest=$(jq -cn --arg c "sha256:$config_d" --argjson cs "${#config}" \
        --arg l "sha256:$layer" --argjson ls "$layer_size" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]}')
    manifest_d=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
    printf '%s' "$manifest" > "$work/oci/blobs/sha256/$manifest_d"
    jq -cn --arg m "sha256:$manifest_d" --argjson ms "${#manifest}" --arg ref "$ref" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m,
                   size: $ms, annotations: {"org.opencontainers.image.ref.name": $ref}}]}' \
        > "$work/oci/index.json"
    printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -C "$work/oci" -cf "$tar" oci-layout index.json blobs
)
