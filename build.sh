#!/usr/bin/env bash
# Kiln bootstrapper: make sure the .NET SDK is there, (re)build the build host only when build/ or
# kernel/ changed, then run it. All logic lives in C# (build/ and kernel/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
host="$root/.kiln-host"
export KILN_ROOT="$root" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! command -v dotnet >/dev/null 2>&1; then
  echo "Kiln needs the .NET 10 SDK: https://dot.net/download (Debian: the dotnet-sdk-10.0 package from packages.microsoft.com)." >&2
  exit 2
fi

stamp="$host/.stamp"
if [ ! -f "$stamp" ] || [ -n "$(find "$root/build" "$root/kernel" "$root/Directory.Build.props" -newer "$stamp" \
      -not -path '*/bin/*' -not -path '*/obj/*' -print -quit)" ]; then
  echo "Building the Kiln build host..." >&2
  mkdir -p "$host"
  if ! dotnet build "$root/build/Build.csproj" -c Release -o "$host" -nologo -v:quiet >"$host/build.log" 2>&1; then
    cat "$host/build.log" >&2
    exit 3
  fi
  touch "$stamp"
fi
exec dotnet "$host/Build.dll" "$@"
