/// <reference types="vite/client" />
interface ImportMetaEnv {
  readonly VITE_ROOMS_API_URL?: string;
  readonly VITE_QUALITY_INTERVAL_SECONDS?: string;
  readonly VITE_DEV_SIGN_IN?: string;
}
