// The plugin's own version (printed by `routetable-ipam --version`); keep it equal to package.json's.

/** Version of this build. */
export const pluginVersion = "0.1.0"
