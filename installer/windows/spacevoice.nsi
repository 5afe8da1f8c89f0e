; SpaceVoice Windows installer (NSIS 3, Modern UI 2). One script, two flavours:
;   makensis /DFLAVOUR=cpu|nvidia /DPAYLOAD=<frozen folder> /DVERSION=0.1.0 /DOUTDIR=<folder> spacevoice.nsi
; installer\windows\build.ps1 builds the frozen folder (PyInstaller) and calls this; tests/installer compiles it on
; Linux against a placeholder payload.
;
; Per-user install (no administrator rights, like most tray utilities): %LOCALAPPDATA%\Programs\SpaceVoice.
; Both flavours install to the same place under the same uninstall entry, so installing one replaces the other
; (onnxruntime and onnxruntime-gpu must never be mixed).
;
; Command line: /S silent; /AUTOSTART also starts SpaceVoice at login; /D=<folder> install folder (last).
; Uninstaller: asks whether to delete the user's people and settings, and separately the downloaded models
; (default: keep both). Silent uninstall (/S) keeps them unless /PURGE is given.

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef FLAVOUR
  !define FLAVOUR "cpu"
!endif
!ifndef PAYLOAD
  !error "Define PAYLOAD: the frozen app folder (installer/dist/spacevoice)"
!endif
!ifndef OUTDIR
  !define OUTDIR "."
!endif

!if "${FLAVOUR}" == "nvidia"
  !define FLAVOUR_NAME "NVIDIA GPU"
!else if "${FLAVOUR}" == "cpu"
  !define FLAVOUR_NAME "CPU"
!else
  !error "FLAVOUR must be cpu or nvidia"
!endif

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\SpaceVoice"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
; Where SpaceVoice keeps people, settings and models (platformdirs' user data folder, appauthor off).
!define USER_DATA "$LOCALAPPDATA\SpaceVoice"

Name "SpaceVoice"
Caption "SpaceVoice ${VERSION} (${FLAVOUR_NAME}) Setup"
OutFile "${OUTDIR}/SpaceVoice-${VERSION}-${FLAVOUR}-setup.exe"
InstallDir "$LOCALAPPDATA\Programs\SpaceVoice"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel user
BrandingText "SpaceVoice ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "SpaceVoice"
VIAddVersionKey "FileDescription" "SpaceVoice installer (${FLAVOUR_NAME})"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "MIT licence"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"

!define MUI_ICON "../icons/spacevoice.ico"
!define MUI_UNICON "../icons/spacevoice.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\SpaceVoiceTray.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start SpaceVoice now (it appears in the tray)"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var DeletePeople
Var DeleteModels

Section "SpaceVoice (${FLAVOUR_NAME})" SecApp
  SectionIn RO
  SetShellVarContext current
  SetOutPath "$INSTDIR"
  ; A previous install (maybe the other flavour) is replaced, not merged: stale DLLs must not linger.
  RMDir /r "$INSTDIR\_internal"
  File /r "${PAYLOAD}/*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "SpaceVoice (${FLAVOUR_NAME})"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "SpaceVoice developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\SpaceVoiceTray.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Flavour" "${FLAVOUR}"
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Start menu entry" SecStartMenu
  SetShellVarContext current
  CreateShortcut "$SMPROGRAMS\SpaceVoice.lnk" "$INSTDIR\SpaceVoiceTray.exe" "" "$INSTDIR\SpaceVoiceTray.exe" 0 \
    SW_SHOWNORMAL "" "Describes your screen or webcam out loud, offline"
SectionEnd

Section /o "Desktop shortcut" SecDesktop
  SetShellVarContext current
  CreateShortcut "$DESKTOP\SpaceVoice.lnk" "$INSTDIR\SpaceVoiceTray.exe" "" "$INSTDIR\SpaceVoiceTray.exe" 0
SectionEnd

Section /o "Start SpaceVoice when I log in" SecAutostart
  ; The same value the tray app's "Start at login" setting writes, so either place can turn it off.
  WriteRegStr HKCU "${RUN_KEY}" "SpaceVoice" '"$INSTDIR\SpaceVoiceTray.exe"'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The SpaceVoice app, its face models and sample picture."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecStartMenu} "SpaceVoice in the Start menu."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "A SpaceVoice icon on the desktop."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "SpaceVoice starts in the tray every time you log in."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/AUTOSTART" $R1
  ${IfNot} ${Errors}
    SectionSetFlags ${SecAutostart} ${SF_SELECTED}
  ${EndIf}
FunctionEnd

Function un.onInit
  StrCpy $DeletePeople 0
  StrCpy $DeleteModels 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    StrCpy $DeletePeople 1
    StrCpy $DeleteModels 1
  ${EndIf}
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  ${IfNot} ${Silent}
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 \
      "Also delete the people you taught SpaceVoice to recognise, and your settings?$\r$\n$\r$\nChoose No to keep them for a later installation." \
      /SD IDNO IDNO keep_people
    StrCpy $DeletePeople 1
    keep_people:
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 \
      "Also delete the models SpaceVoice downloaded? They can be large to download again.$\r$\n$\r$\nChoose No to keep them." \
      /SD IDNO IDNO keep_models
    StrCpy $DeleteModels 1
    keep_models:
  ${EndIf}

  Delete "$SMPROGRAMS\SpaceVoice.lnk"
  Delete "$DESKTOP\SpaceVoice.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "SpaceVoice"
  ; Remove exactly what the installer put there, so a folder the user chose keeps anything else in it.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\spacevoice.exe"
  Delete "$INSTDIR\SpaceVoiceTray.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"

  ; Speed probes and other rebuildable files go in any case.
  RMDir /r "${USER_DATA}\Cache"
  ${If} $DeletePeople == 1
  ${AndIf} $DeleteModels == 1
    RMDir /r "${USER_DATA}"
  ${ElseIf} $DeletePeople == 1
    Call un.DeleteAllButModels
  ${ElseIf} $DeleteModels == 1
    RMDir /r "${USER_DATA}\models"
  ${EndIf}
SectionEnd

; Deletes everything in the user data folder except the model store (people, settings, logs).
Function un.DeleteAllButModels
  FindFirst $0 $1 "${USER_DATA}\*"
  ${DoWhile} $1 != ""
    ${If} $1 != "."
    ${AndIf} $1 != ".."
    ${AndIf} $1 != "models"
      ${If} ${FileExists} "${USER_DATA}\$1\*"
        RMDir /r "${USER_DATA}\$1"
      ${Else}
        Delete "${USER_DATA}\$1"
      ${EndIf}
    ${EndIf}
    FindNext $0 $1
  ${Loop}
  FindClose $0
FunctionEnd
