/** English strings shared by every area of the app. */
export default {
  "app.name": "Loyalty Wallet",
  "language.de": "Deutsch",
  "language.en": "English",
};
