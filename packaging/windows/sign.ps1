# Authenticode-sign cpdesk's Windows files with signtool (SHA-256, RFC 3161 timestamp),
# then verify them. Used by .github/workflows/windows-package.yml; IT teams re-signing
# with their own certificate run it the same way:
#   pwsh packaging/windows/sign.ps1 -Files cpdesk-0.1.0-x64.msi [-Pfx cert.pfx -Password ...]
# Without a certificate (no -Pfx and no CPDESK_PFX_BASE64) it makes a throwaway
# self-signed test certificate, trusted only for this run.
param(
  [Parameter(Mandatory = $true)] [string[]] $Files,
  [string] $Pfx = "",
  [string] $Password = $env:CPDESK_PFX_PASSWORD,
  [string] $Timestamp = "http://timestamp.digicert.com"
)
$ErrorActionPreference = "Stop"
$signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
  Sort-Object FullName | Select-Object -Last 1
if (-not $Pfx -and $env:CPDESK_PFX_BASE64) {
  $Pfx = Join-Path $env:RUNNER_TEMP "cpdesk-signing.pfx"
  [IO.File]::WriteAllBytes($Pfx, [Convert]::FromBase64String($env:CPDESK_PFX_BASE64))
}
if (-not $Pfx) {
  $cert = New-SelfSignedCertificate -Type CodeSigningCert -Subject "CN=cpdesk TEST code signing" `
    -CertStoreLocation Cert:\CurrentUser\My -NotAfter (Get-Date).AddDays(2)
  $Password = [Guid]::NewGuid().ToString()
  $Pfx = Join-Path ([IO.Path]::GetTempPath()) "cpdesk-test.pfx"
  Export-PfxCertificate -Cert $cert -FilePath $Pfx -Password (ConvertTo-SecureString $Password -AsPlainText -Force) | Out-Null
  Export-Certificate -Cert $cert -FilePath "$Pfx.cer" | Out-Null
  Import-Certificate -FilePath "$Pfx.cer" -CertStoreLocation Cert:\CurrentUser\Root | Out-Null
}
foreach ($file in $Files) {
  & $signtool.FullName sign /fd SHA256 /td SHA256 /tr $Timestamp /f $Pfx /p $Password /d cpdesk $file
  if ($LASTEXITCODE -ne 0) { throw "signtool sign failed for $file" }
  & $signtool.FullName verify /pa /v $file
  if ($LASTEXITCODE -ne 0) { throw "signtool verify failed for $file" }
}
