<#
.SYNOPSIS
Builds the frozen SpaceVoice app (PyInstaller) and its Windows installer (NSIS) for one flavour.

.DESCRIPTION
Creates a build environment .venv-build-<flavour> with the runtime dependencies and PyInstaller (no torch,
transformers or optimum), freezes installer\spacevoice.spec into installer\dist\<flavour>\spacevoice, checks the
result with installer\check_frozen.py, and compiles installer\windows\spacevoice.nsi into
installer\dist\SpaceVoice-<version>-<flavour>-setup.exe.

The nvidia flavour swaps onnxruntime for onnxruntime-gpu (they share one import name and must never be installed
together). It uses the CUDA 12 and cuDNN 9 libraries installed on the user's computer; without them SpaceVoice
runs on the CPU and says so once.

.EXAMPLE
powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 -Flavour nvidia
#>
param(
    [ValidateSet("cpu", "nvidia")] [string] $Flavour = "cpu",
    [string] $Python = "python"
)
$ErrorActionPreference = "Stop"

function Invoke-Checked {
    # Native commands do not throw on failure in Windows PowerShell; stop the build at the first one that fails.
    param([string] $Exe, [string[]] $Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $Root
$Pyproject = Get-Content "$Root\pyproject.toml" -Raw
$Version = [regex]::Match($Pyproject, '(?m)^version = "([^"]+)"').Groups[1].Value
$GpuPin = [regex]::Match($Pyproject, '"(onnxruntime-gpu==[^"]+)"').Groups[1].Value
$Started = Get-Date

$Venv = "$Root\.venv-build-$Flavour"
$VenvPython = "$Venv\Scripts\python.exe"
if (-not (Test-Path $VenvPython)) { Invoke-Checked $Python @("-m", "venv", $Venv) }
Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "--upgrade", "pip")
# The runtime dependencies and PyInstaller only: the export extra (torch, transformers, optimum) stays out.
Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "-e", ".[build]")
if ($Flavour -eq "nvidia") {
    if (-not $GpuPin) { throw "pyproject.toml has no onnxruntime-gpu pin in the gpu extra" }
    Invoke-Checked $VenvPython @("-m", "pip", "uninstall", "-y", "-q", "onnxruntime")
    Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", $GpuPin)
}

$Dist = "$Root\installer\dist\$Flavour"
Invoke-Checked $VenvPython @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", $Dist,
    "--workpath", "$Root\installer\build\$Flavour", "$Root\installer\spacevoice.spec")
Invoke-Checked $VenvPython @("$Root\installer\check_frozen.py", "$Dist\spacevoice")

$Makensis = (Get-Command makensis -ErrorAction SilentlyContinue).Source
if (-not $Makensis) { $Makensis = "${env:ProgramFiles(x86)}\NSIS\makensis.exe" }
if (-not (Test-Path $Makensis)) { throw "NSIS is not installed (choco install nsis, or https://nsis.sourceforge.io)" }
Invoke-Checked $Makensis @("/V3", "/WX", "/DFLAVOUR=$Flavour", "/DPAYLOAD=$Dist\spacevoice", "/DVERSION=$Version",
    "/DOUTDIR=$Root\installer\dist", "$Root\installer\windows\spacevoice.nsi")

$Setup = Get-Item "$Root\installer\dist\SpaceVoice-$Version-$Flavour-setup.exe"
$FrozenMiB = [math]::Round(((Get-ChildItem "$Dist\spacevoice" -Recurse -File | Measure-Object Length -Sum).Sum / 1MB))
$SetupMiB = [math]::Round($Setup.Length / 1MB)
$Seconds = [math]::Round(((Get-Date) - $Started).TotalSeconds)
Write-Output "built $($Setup.FullName) ($SetupMiB MiB; frozen folder $FrozenMiB MiB) in $Seconds s"
