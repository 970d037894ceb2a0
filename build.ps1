#!/usr/bin/env pwsh
# Kiln bootstrapper for PowerShell: same as build.sh. Rebuilds the build host only when build/ or
# kernel/ changed, then runs it with the given arguments.
$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot
$hostDir = Join-Path $root '.kiln-host'
$env:KILN_ROOT = $root
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
    Write-Error 'Kiln needs the .NET 10 SDK: https://dot.net/download'
    exit 2
}

$stamp = Join-Path $hostDir '.stamp'
$stale = -not (Test-Path $stamp)
if (-not $stale) {
    $built = (Get-Item -Force $stamp).LastWriteTimeUtc
    $stale = [bool](Get-ChildItem -Recurse -File -Force (Join-Path $root 'build'), (Join-Path $root 'kernel') |
        Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' -and $_.LastWriteTimeUtc -gt $built } |
        Select-Object -First 1)
}
if ($stale) {
    Write-Host 'Building the Kiln build host...'
    New-Item -ItemType Directory -Force $hostDir | Out-Null
    $log = Join-Path $hostDir 'build.log'
    & dotnet build (Join-Path $root 'build/Build.csproj') -c Release -o $hostDir -nologo -v:quiet *> $log
    if ($LASTEXITCODE -ne 0) { Get-Content $log | Write-Host; exit 3 }
    New-Item -ItemType File -Force $stamp | Out-Null
}
& dotnet (Join-Path $hostDir 'Build.dll') @args
exit $LASTEXITCODE
