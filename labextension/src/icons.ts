/** The sidebar's icon: stacked containers. */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="10" width="4" height="4" rx="0.5"/><rect x="8" y="10" width="4" height="4" rx="0.5"/>
    <rect x="13" y="10" width="4" height="4" rx="0.5"/><rect x="8" y="5" width="4" height="4" rx="0.5"/>
    <rect x="13" y="5" width="4" height="4" rx="0.5"/><rect x="13" y="0.5" width="4" height="4" rx="0.5"/>
    <path d="M1 15.5h20.2c.9-1.6 1-3 .6-4 .9-.3 1.7-.2 2.2.1-.3-1.2-1.3-1.9-2.7-1.8-.3-1.2-1.1-2-1.9-2.4-.6 1.1-.6 2.4 0 3.4
      -.3.3-.9.6-1.6.6H1c-.2 3.3 1.5 6.9 6.3 7.9 5.5 1.1 11-1 13.5-5.8H1z"/>
  </g>
</svg>`;

export const dockerIcon = new LabIcon({ name: 'dockernb:docker', svgstr: svg });
