# Build the BrainLens Windows installer: PyInstaller folder bundle, then Inno Setup.
#   Output: dist\BrainLens\ (portable folder) and dist\BrainLens-<version>-windows-x64-setup.exe
# Needs: Python 3.11+ (x64) on PATH as `py -3.11` or $env:PYTHON, and Inno Setup 6 (ISCC.exe).
# Knobs: $env:PYTHON, $env:BUILD_VENV, $env:TORCH_INDEX (e.g. https://download.pytorch.org/whl/cpu for a
#        CPU-only build, or .../whl/cu124 for NVIDIA GPUs), $env:ISCC (path to ISCC.exe).
# Run from any folder:  powershell -ExecutionPolicy Bypass -File packaging\build.ps1
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Here = Split-Path -Parent $MyInvocation.MyCommand.Path
$Repo = (Resolve-Path (Join-Path $Here "..")).Path
$Venv = if ($env:BUILD_VENV) { $env:BUILD_VENV } else { Join-Path $Repo "build\pkg-venv" }
$Dist = Join-Path $Repo "dist"
$Work = Join-Path $Repo "build\pyinstaller"
Set-Location $Repo

function Invoke-Checked {
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$Py = Join-Path $Venv "Scripts\python.exe"
if (-not (Test-Path $Py)) {
    if ($env:PYTHON) { Invoke-Checked $env:PYTHON @("-m", "venv", $Venv) }
    else { Invoke-Checked "py" @("-3.11", "-m", "venv", $Venv) }
}
Invoke-Checked $Py @("-m", "pip", "install", "--upgrade", "pip")
if ($env:TORCH_INDEX) {
    Invoke-Checked $Py @("-m", "pip", "install", "torch", "torchvision", "--index-url", $env:TORCH_INDEX)
}
New-Item -ItemType Directory -Force (Join-Path $Repo "resources") | Out-Null  # hatchling force-includes it
Invoke-Checked $Py @("-m", "pip", "install", $Repo, "pyinstaller>=6.10", "pyinstaller-hooks-contrib>=2024.8")

$Version = (& $Py -c "import brainlens; print(brainlens.__version__)").Trim()
Write-Host "== BrainLens $Version (Windows x64)"

Write-Host "== checking bundled models"
Invoke-Checked $Py @((Join-Path $Here "verify_models.py"), (Join-Path $Repo "models"))

Write-Host "== PyInstaller"
Invoke-Checked $Py @("-m", "PyInstaller", "--noconfirm", "--clean", "--distpath", $Dist, "--workpath", $Work,
                     (Join-Path $Here "brainlens.spec"))

Write-Host "== smoke test"
$Cli = Join-Path $Dist "BrainLens\brainlens-cli.exe"
Invoke-Checked $Cli @("--help")
$env:QT_QPA_PLATFORM = "offscreen"
Invoke-Checked $Cli @("--demo", "--screenshot", (Join-Path $Work "smoke.png"))
Remove-Item Env:\QT_QPA_PLATFORM

Write-Host "== Inno Setup"
$Iscc = $env:ISCC
if (-not $Iscc) {
    $Candidates = @(
        (Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:ProgramFiles "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:LOCALAPPDATA "Programs\Inno Setup 6\ISCC.exe")
    )
    $Iscc = $Candidates | Where-Object { $_ -and (Test-Path $_) } | Select-Object -First 1
}
if (-not $Iscc) { throw "Inno Setup 6 not found: install it (winget install JRSoftware.InnoSetup) or set `$env:ISCC" }
Invoke-Checked $Iscc @("/DAppVersion=$Version", "/DRepoRoot=$Repo", (Join-Path $Here "brainlens.iss"))
Write-Host "== built $(Join-Path $Dist "BrainLens-$Version-windows-x64-setup.exe")"
