/** Deutsche Texte, die alle Bereiche der App teilen. */
export default {
  "app.name": "Loyalty Wallet",
  "language.de": "Deutsch",
  "language.en": "English",
};
