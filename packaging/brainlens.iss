; Inno Setup 6 script for the BrainLens Windows installer. Built by packaging\build.ps1, which passes
;   /DAppVersion=<version> /DRepoRoot=<repo folder>
; after PyInstaller has produced dist\BrainLens\ (BrainLens.exe windowed + brainlens-cli.exe console).

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef RepoRoot
  #define RepoRoot ".."
#endif
#define AppName "BrainLens"
#define BundleDir RepoRoot + "\dist\BrainLens"

[Setup]
; A fixed AppId lets later versions upgrade in place; never change it.
AppId={{6F1C2B8E-3D4A-4F7B-9C2E-B7A1E5D0C9A4}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=BrainLens
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user install by default (no admin); the user may choose all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#RepoRoot}\dist
OutputBaseFilename=BrainLens-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
UninstallDisplayIcon={app}\BrainLens.exe
; Upgrades replace files of a running copy only after it is closed.
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller folder: both executables, _internal\ (Python, Qt, torch) and the bundled models.
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; Drop the previous version's libraries so an upgrade never mixes two torch builds.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\BrainLens.exe"
Name: "{group}\{#AppName} (demo study)"; Filename: "{app}\BrainLens.exe"; Parameters: "--demo"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\BrainLens.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\BrainLens.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
